// xchg eax, ebx; imul ecx, edx, 10; bswap eax; cmpxchg [esi], ecx; setz al
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
// xchg (572)
c.startEip = (e0 + 0) | 0;
s.eip = (e0 + 1) | 0;
H[0](c, I[0]);
if (c.codeWrites !== w0) { s.eip = (e0 + 1) | 0; c.instructions += 1; return; }
// imul (624)
r[1] = X.imul2(s, r[2], 10, 32);
// bswap (595)
c.startEip = (e0 + 4) | 0;
s.eip = (e0 + 6) | 0;
H[2](c, I[2]);
if (c.codeWrites !== w0) { s.eip = (e0 + 6) | 0; c.instructions += 3; return; }
// cmpxchg (632)
c.startEip = (e0 + 6) | 0;
s.eip = (e0 + 9) | 0;
H[3](c, I[3]);
if (c.codeWrites !== w0) { s.eip = (e0 + 9) | 0; c.instructions += 4; return; }
// sete (303)
c.startEip = (e0 + 9) | 0;
s.eip = (e0 + 12) | 0;
H[4](c, I[4]);
c.instructions += 5;
