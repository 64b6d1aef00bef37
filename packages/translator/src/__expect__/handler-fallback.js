// xchg eax, ebx; imul ecx, edx, 10; bswap eax; cmpxchg [esi], ecx; setz al
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
if (ic + 5 > lim) { xo = 0; break x; }
// xchg (572)
c.startEip = (e0 + 0) | 0; kk = 0;
if (fo !== 0) { s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); fo = 0; }
s.eip = (e0 + 1) | 0;
r[0] = r0; r[1] = r1; q = 0;
H[0](c, I[0]);
r0 = r[0]; r1 = r[1]; r2 = r[2]; q = 1;
if (c.codeWrites !== w0) { xo = 1; n = 1; break x; }
// imul (624)
r1 = X.imul2(s, r2, 10, 32);
// bswap (595)
c.startEip = (e0 + 4) | 0; kk = 130;
s.eip = (e0 + 6) | 0;
r[0] = r0; r[1] = r1; q = 0;
H[2](c, I[2]);
r0 = r[0]; r1 = r[1]; r2 = r[2]; q = 1;
if (c.codeWrites !== w0) { xo = 6; n = 3; break x; }
// cmpxchg (632)
c.startEip = (e0 + 6) | 0; kk = 195;
s.eip = (e0 + 9) | 0;
r[0] = r0; r[1] = r1; q = 0;
H[3](c, I[3]);
r0 = r[0]; r1 = r[1]; r2 = r[2]; q = 1;
if (c.codeWrites !== w0) { xo = 9; n = 4; break x; }
// sete (303)
r0 = (r0 & -256) | (s.condition(4) ? 1 : 0);
ic += 5;
xo = 12; break x;
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
