// mov eax, [ebx]; push eax; shr eax, 3; rol ecx, cl
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
// mov (539)
c.startEip = (e0 + 0) | 0;
r[0] = c.mmu.read32(c.linear(3, (r[3]) | 0, 4, false), false);
// push (474)
c.startEip = (e0 + 2) | 0;
s.eip = (e0 + 3) | 0;
H[1](c, I[1]);
if (c.codeWrites !== w0) { s.eip = (e0 + 3) | 0; c.instructions += 2; return; }
// shr (227)
r[0] = X.shift(s, 5, r[0], 3, 32);
// rol (169)
r[1] = X.shift(s, 0, r[1], (r[1] & 255), 32);
s.eip = (e0 + 8) | 0;
c.instructions += 4;
