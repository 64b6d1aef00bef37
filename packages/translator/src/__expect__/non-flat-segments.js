// mov eax, [ebx]; push eax; shr eax, 3; rol ecx, cl
const T = M.tlbRead, D = M.ram32, ND = M.ramDwords;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r3 = r[3];
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
kk = 0;
r0 = (L = c.linear(3, r3, 4, false), e = L + T[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (M.read32(L, false)));
// push (474)
c.startEip = (e0 + 2) | 0; kk = 65;
if (fo !== 0) { s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); fo = 0; }
s.eip = (e0 + 3) | 0;
r[0] = r0; r[1] = r1; q = 0;
H[1](c, I[1]);
r0 = r[0]; r1 = r[1]; r3 = r[3]; q = 1;
if (c.codeWrites !== w0) { xo = 3; n = 2; break x; }
// shr (227)
fa = r0; fb = 3; fv = (fa >>> 3) | 0; r0 = fv;
fo = 9;
// rol (169)
s.setLazy(9, fa, fb, fv, 32); fo = 0;
r1 = X.shift(s, 0, r1, (r1 & 255), 32);
ic += 4;
xo = 8; break x;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; r[1] = r1; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; r[1] = r1; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
