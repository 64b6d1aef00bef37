// rol ebx, 5; add ebx, eax; ror eax, 11; adc esi, 0; imul edx, ebx, 7; xor edx, eax; imul ebx, edx; seto al; rol edi, cl; cmp edi, esi; add bl, dh; sub ebx, ecx; cmp al, [esi]; and esi, 3
const T = M.tlbRead, B = M.ram, NB = M.ramBytes;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r6 = r[6], r7 = r[7];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 14 > lim) { xo = 0; break x; }
// rol (167)
r3 = (r3 << 5) | (r3 >>> 27);
// add (3)
fa = r3; fb = r0; fv = (fa + fb) | 0; r3 = fv;
fo = 1;
// ror (179)
s.setLazy(1, fa, fb, fv, 32); fo = 0;
r0 = X.shift(s, 1, r0, 11, 32);
// adc (59)
r6 = X.alu(s, 2, r6, 0, 32);
// imul (624)
r2 = Math.imul(r3, 7);
// xor (123)
fv = r2 ^ r0; r2 = fv;
fo = 5;
// imul (618)
s.setLazy(5, fa, fb, fv, 32); fo = 0;
r3 = X.imul2(s, r2, r3, 32);
// seto (263)
r0 = (r0 & -256) | (s.condition(0) ? 1 : 0);
// rol (169)
{ const k = r1 & 31; r7 = (r7 << k) | (r7 >>> ((32 - k) & 31)); }
// cmp (143)
fa = r7; fb = r6; fv = (fa - fb) | 0;
fo = 3;
// add (1)
{ const v = ((r3 & 255) + ((r2 >> 8) & 255)) & 255; r3 = (r3 & -256) | v; }
// sub (103)
fa = r3; fb = r1; fv = (fa - fb) | 0; r3 = fv;
// cmp (145)
{ const v = (L = r6, e = (L + T[L >>> 12]) >>> 0, e < NB ? B[e] : (kk = 780, M.read8(L, false))); }
// and (99)
fv = r6 & 3; r6 = fv;
fo = 5;
ic += 14;
xo = 35; break x;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; r[2] = r2; r[3] = r3; r[6] = r6; r[7] = r7; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; r[2] = r2; r[3] = r3; r[6] = r6; r[7] = r7; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
