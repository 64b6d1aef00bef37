// mov eax, [esi + ecx * 4 + 8]; mov [edi], eax; add dword [ebp - 4], 3; cmp byte [esi], 0
const T = M.tlbRead, TW = M.tlbWrite, B = M.ram, D = M.ram32, NB = M.ramBytes, ND = M.ramDwords;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r5 = r[5], r6 = r[6], r7 = r[7];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 4 > lim) { xo = 0; break x; }
// mov (539)
r0 = (L = (r6 + r1 * 4 + 8) | 0, e = L + T[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (kk = 0, M.read32(L, false)));
// mov (535)
L = r7; e = L + TW[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0; if (e < ND) D[e] = r0; else { kk = 65; M.write32(L, r0, false); if (c.codeWrites !== w0) { xo = 6; n = 2; break x; } }
// add (19)
L = (r5 + -4) | 0; e = L + TW[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0; if (e < ND) { fa = D[e]; fb = 3; fv = (fa + fb) | 0; D[e] = fv; } else { kk = 130; M.probeWrite(L, 4, false); fa = M.read32(L, false); fb = 3; fv = (fa + fb) | 0; M.write32(L, fv, false); if (c.codeWrites !== w0) { fo = 1; xo = 10; n = 3; break x; } }
fo = 1;
// cmp (153)
fa = (L = r6, e = (L + T[L >>> 12]) >>> 0, e < NB ? B[e] : (kk = 195, M.read8(L, false))); fb = 0; fv = (fa - fb) & 255;
fo = 259;
ic += 4;
xo = 13; break x;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
