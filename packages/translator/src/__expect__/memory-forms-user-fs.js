// mov eax, [fs:0x14]; movzx ecx, byte [eax]; movsx edx, word [eax + 2]
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
// mov (549)
c.startEip = (e0 + 0) | 0;
r[0] = c.mmu.read32(c.linear(4, (20) | 0, 4, false), true);
// movzx (578)
c.startEip = (e0 + 6) | 0;
r[1] = c.mmu.read8((r[0]) | 0, true);
// movsx (587)
c.startEip = (e0 + 9) | 0;
r[2] = ((c.mmu.read16((r[0] + 2) | 0, true) << 16) >> 16);
s.eip = (e0 + 13) | 0;
c.instructions += 3;
