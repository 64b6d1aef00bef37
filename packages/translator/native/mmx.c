/*
 * Native MMX recorder: runs each Pentium II MMX operation on this host as `op mm0, mm1` with
 * mm0 = a, mm1 = b and prints `<op> <a> <b> <result>` (64-bit hex) per line.
 * Built with: gcc -O1 -mno-red-zone -o mmx mmx.c
 */
#include <stdint.h>
#include <stdio.h>

static uint32_t rng_state = 0x1b873593u;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint64_t r64(void) {
  uint64_t v = ((uint64_t)rnd() << 32) | rnd();
  switch (rnd() & 3) {
  case 0: return v & 0x8080808080808080ull ? v | 0x7f7f00007fff8000ull : v;
  case 1: return v & 0x00ff00ff00ff00ffull;
  default: return v;
  }
}

#define MOP(NAME, INSN)                                                                               \
  static void NAME(uint64_t a, uint64_t b) {                                                          \
    uint64_t r;                                                                                       \
    __asm__ volatile("movq %[a], %%mm0\n movq %[b], %%mm1\n " INSN " %%mm1, %%mm0\n movq %%mm0, %[r]\n emms" \
                     : [r] "=m"(r) : [a] "m"(a), [b] "m"(b) : "mm0", "mm1");                          \
    printf("%s %016llx %016llx %016llx\n", #NAME + 2, (unsigned long long)a, (unsigned long long)b,  \
           (unsigned long long)r);                                                                    \
  }
MOP(r_paddb, "paddb") MOP(r_paddw, "paddw") MOP(r_paddd, "paddd")
MOP(r_paddsb, "paddsb") MOP(r_paddsw, "paddsw") MOP(r_paddusb, "paddusb") MOP(r_paddusw, "paddusw")
MOP(r_psubb, "psubb") MOP(r_psubw, "psubw") MOP(r_psubd, "psubd")
MOP(r_psubsb, "psubsb") MOP(r_psubsw, "psubsw") MOP(r_psubusb, "psubusb") MOP(r_psubusw, "psubusw")
MOP(r_pmullw, "pmullw") MOP(r_pmulhw, "pmulhw") MOP(r_pmaddwd, "pmaddwd")
MOP(r_pcmpeqb, "pcmpeqb") MOP(r_pcmpeqw, "pcmpeqw") MOP(r_pcmpeqd, "pcmpeqd")
MOP(r_pcmpgtb, "pcmpgtb") MOP(r_pcmpgtw, "pcmpgtw") MOP(r_pcmpgtd, "pcmpgtd")
MOP(r_pand, "pand") MOP(r_pandn, "pandn") MOP(r_por, "por") MOP(r_pxor, "pxor")
MOP(r_packsswb, "packsswb") MOP(r_packuswb, "packuswb") MOP(r_packssdw, "packssdw")
MOP(r_punpcklbw, "punpcklbw") MOP(r_punpcklwd, "punpcklwd") MOP(r_punpckldq, "punpckldq")
MOP(r_punpckhbw, "punpckhbw") MOP(r_punpckhwd, "punpckhwd") MOP(r_punpckhdq, "punpckhdq")
MOP(r_psllw, "psllw") MOP(r_pslld, "pslld") MOP(r_psllq, "psllq")
MOP(r_psrlw, "psrlw") MOP(r_psrld, "psrld") MOP(r_psrlq, "psrlq")
MOP(r_psraw, "psraw") MOP(r_psrad, "psrad")

int main(void) {
  void (*ops[])(uint64_t, uint64_t) = {
      r_paddb, r_paddw, r_paddd, r_paddsb, r_paddsw, r_paddusb, r_paddusw, r_psubb, r_psubw, r_psubd,
      r_psubsb, r_psubsw, r_psubusb, r_psubusw, r_pmullw, r_pmulhw, r_pmaddwd, r_pcmpeqb, r_pcmpeqw,
      r_pcmpeqd, r_pcmpgtb, r_pcmpgtw, r_pcmpgtd, r_pand, r_pandn, r_por, r_pxor, r_packsswb,
      r_packuswb, r_packssdw, r_punpcklbw, r_punpcklwd, r_punpckldq, r_punpckhbw, r_punpckhwd,
      r_punpckhdq};
  void (*shifts[])(uint64_t, uint64_t) = {r_psllw, r_pslld, r_psllq, r_psrlw, r_psrld, r_psrlq, r_psraw, r_psrad};
  for (unsigned k = 0; k < sizeof ops / sizeof ops[0]; k++)
    for (int i = 0; i < 60; i++) {
      uint64_t a = r64(), b = (i % 5 == 0) ? a : r64();
      ops[k](a, b);
    }
  for (unsigned k = 0; k < sizeof shifts / sizeof shifts[0]; k++)
    for (int i = 0; i < 60; i++) {
      uint64_t cnt = i < 40 ? (uint64_t)(rnd() % 70) : (i < 50 ? ((uint64_t)rnd() << 32) | 3 : (uint64_t)i);
      shifts[k](r64(), cnt);
    }
  return 0;
}
