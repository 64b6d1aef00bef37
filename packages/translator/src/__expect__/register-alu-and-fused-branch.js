// mov eax, ebx; add eax, 5; cmp eax, ecx; jb 0x1000; inc edx; jnz 0x1000
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
for (;;) {
// mov (535)
r[0] = r[3];
// add (19)
fa = r[0]; fb = 5; fv = (fa + fb) | 0; s.setLazy(1, fa, fb, fv, 32); r[0] = fv;
// cmp (143)
fa = r[0]; fb = r[1]; fv = (fa - fb) | 0; s.setLazy(3, fa, fb, fv, 32);
// jb (278)
s.eip = ((fa >>> 0) < (fb >>> 0)) ? (((e0 + 9) | 0) + -9) | 0 : (e0 + 9) | 0;
if (s.eip !== ((e0 + 9) | 0)) { c.instructions += 4; return; }
// inc (458)
fa = r[2]; fv = (fa + 1) | 0; s.setLazy(6, fa, 1, fv, 32); r[2] = fv;
// jne (308)
s.eip = !(fv === 0) ? (((e0 + 12) | 0) + -12) | 0 : (e0 + 12) | 0;
c.instructions += 6;
if (s.eip !== e0 || c.instructions + 6 > c.blockEnd || c.codeWrites !== w0) return;
}
