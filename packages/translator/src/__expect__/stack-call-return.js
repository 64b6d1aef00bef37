// push ebp; mov ebp, esp; push 7; call 0x2000; pop ebp; ret
const T = M.tlbRead, TW = M.tlbWrite, D = M.ram32, ND = M.ramDwords;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r4 = r[4], r5 = r[5];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 4 > lim) { xo = 0; break x; }
// push (474)
{ const v = r5; const sp = (r4 - 4) | 0; L = sp; e = L + TW[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0; if (e < ND) { D[e] = v; r4 = sp; } else { kk = 0; M.write32(L, v, false); r4 = sp; if (c.codeWrites !== w0) { xo = 1; n = 1; break x; } } }
// mov (535)
r5 = r4;
// push (489)
{ const v = 7; const sp = (r4 - 4) | 0; L = sp; e = L + TW[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0; if (e < ND) { D[e] = v; r4 = sp; } else { kk = 130; M.write32(L, v, false); r4 = sp; if (c.codeWrites !== w0) { xo = 5; n = 3; break x; } } }
// call (748)
{ const sp = (r4 - 4) | 0; L = sp; e = L + TW[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0; if (e < ND) { D[e] = (e0 + 10) | 0; r4 = sp; s.eip = (((e0 + 10) | 0) + 4086) | 0; } else { kk = 195; M.write32(L, (e0 + 10) | 0, false); r4 = sp; s.eip = (((e0 + 10) | 0) + 4086) | 0; if (c.codeWrites !== w0) { n = 4; break y; } } }
ic += 4;
pc = (s.eip - e0) | 0; continue;
case 10:
// block at 10
if (ic + 2 > lim) { xo = 10; break x; }
// pop (477)
{ const v = (L = r4, e = L + T[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (kk = 256, M.read32(L, false))); r4 = (r4 + 4) | 0; r5 = v; }
// ret (770)
{ const t = (L = r4, e = L + T[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (kk = 321, M.read32(L, false))); r4 = (r4 + 4) | 0; s.eip = t; }
ic += 2;
pc = (s.eip - e0) | 0; continue;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[4] = r4; r[5] = r5; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[4] = r4; r[5] = r5; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
