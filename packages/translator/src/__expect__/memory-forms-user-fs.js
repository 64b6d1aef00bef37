// mov eax, [fs:0x14]; movzx ecx, byte [eax]; movsx edx, word [eax + 2]
const T = M.tlbRead, B = M.ram, W = M.ram16, D = M.ram32, NB = M.ramBytes, NW = M.ramWords, ND = M.ramDwords;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r2 = r[2];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 3 > lim) { xo = 0; break x; }
// mov (549)
kk = 0;
r0 = (L = c.linear(4, 20, 4, false), e = L + T[(L >>> 12) | 1048576], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (M.read32(L, true)));
// movzx (578)
r1 = (L = r0, e = (L + T[(L >>> 12) | 1048576]) >>> 0, e < NB ? B[e] : (kk = 65, M.read8(L, true)));
// movsx (587)
r2 = (((L = (r0 + 2) | 0, e = L + T[(L >>> 12) | 1048576], e = ((e >>> 1) | (e << 31)) >>> 0, e < NW ? W[e] : (kk = 130, M.read16(L, true))) << 16) >> 16);
ic += 3;
xo = 13; break x;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; r[1] = r1; r[2] = r2; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; r[1] = r1; r[2] = r2; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
