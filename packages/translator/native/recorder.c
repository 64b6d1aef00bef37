/*
 * Native recorder: runs integer instructions on this x86-64 host at 8/16/32-bit operand size
 * with edge and seeded random inputs, and prints one plain-text vector per line:
 *
 *   <op> <width> <in0> <in1> <in2> <flagsIn> <out0> <out1> <flagsOut>
 *
 * All numbers are hex. in0 is the destination (or EAX for MUL/DIV), in1 the source, in2 a count
 * or third input; out0/out1 are the results (out1 = EDX for MUL/DIV, the source register for
 * XADD/CMPXCHG). flagsIn/flagsOut carry the six status flags (CF PF AF ZF SF OF) only.
 * Built with: gcc -O1 -mno-red-zone -o recorder recorder.c
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define STATUS 0x8d5u

static uint32_t rng_state = 0x2545f491u;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static const uint32_t EDGE[] = {0,          1,          2,          0x7f,       0x80,       0x81,
                                0xff,       0x7fff,     0x8000,     0x8001,     0xffff,     0x7fffffff,
                                0x80000000, 0x80000001, 0xffffffff, 0xfffffffe, 0x0f,       0x10};
#define NEDGE (sizeof EDGE / sizeof EDGE[0])

static uint32_t mask_of(int w) { return w == 8 ? 0xffu : w == 16 ? 0xffffu : 0xffffffffu; }

static void emit(const char *op, int w, uint32_t a, uint32_t b, uint32_t c, uint64_t fi, uint32_t r0,
                 uint32_t r1, uint64_t fo) {
  printf("%s %d %x %x %x %x %x %x %x\n", op, w, a, b, c, (unsigned)(fi & STATUS), r0, r1,
         (unsigned)(fo & STATUS));
}

/* Two-operand ALU: dst op= src. */
#define ALU2(NAME, INSN)                                                                              \
  static void NAME(int w, uint32_t a, uint32_t b, uint64_t fi) {                                      \
    uint64_t f = fi;                                                                                  \
    uint32_t r = a;                                                                                   \
    if (w == 8)                                                                                       \
      __asm__ volatile("push %[f]\n popfq\n " INSN "b %b[s], %b[d]\n pushfq\n pop %[f]"               \
                       : [d] "+q"(r), [f] "+r"(f) : [s] "q"(b) : "cc");                               \
    else if (w == 16)                                                                                 \
      __asm__ volatile("push %[f]\n popfq\n " INSN "w %w[s], %w[d]\n pushfq\n pop %[f]"               \
                       : [d] "+r"(r), [f] "+r"(f) : [s] "r"(b) : "cc");                               \
    else                                                                                              \
      __asm__ volatile("push %[f]\n popfq\n " INSN "l %k[s], %k[d]\n pushfq\n pop %[f]"               \
                       : [d] "+r"(r), [f] "+r"(f) : [s] "r"(b) : "cc");                               \
    emit(INSN, w, a, b, 0, fi, r & mask_of(w), 0, f);                                                 \
  }
ALU2(r_add, "add")
ALU2(r_adc, "adc")
ALU2(r_sub, "sub")
ALU2(r_sbb, "sbb")
ALU2(r_and, "and")
ALU2(r_or, "or")
ALU2(r_xor, "xor")
ALU2(r_cmp, "cmp")
ALU2(r_test, "test")
/* Two-operand forms that exist at 16 and 32 bits only. */
#define ALU2W(NAME, INSN)                                                                             \
  static void NAME(int w, uint32_t a, uint32_t b, uint64_t fi) {                                      \
    uint64_t f = fi;                                                                                  \
    uint32_t r = a;                                                                                   \
    if (w == 16)                                                                                      \
      __asm__ volatile("push %[f]\n popfq\n " INSN "w %w[s], %w[d]\n pushfq\n pop %[f]"               \
                       : [d] "+r"(r), [f] "+r"(f) : [s] "r"(b) : "cc");                               \
    else                                                                                              \
      __asm__ volatile("push %[f]\n popfq\n " INSN "l %k[s], %k[d]\n pushfq\n pop %[f]"               \
                       : [d] "+r"(r), [f] "+r"(f) : [s] "r"(b) : "cc");                               \
    emit(#NAME + 2, w, a, b, 0, fi, r & mask_of(w), 0, f);                                                 \
  }
ALU2W(r_bt, "bt")
ALU2W(r_bts, "bts")
ALU2W(r_btr, "btr")
ALU2W(r_btc, "btc")
ALU2W(r_bsf, "bsf")
ALU2W(r_bsr, "bsr")
ALU2W(r_imul2, "imul")

/* One-operand ALU. */
#define ALU1(NAME, INSN)                                                                              \
  static void NAME(int w, uint32_t a, uint64_t fi) {                                                  \
    uint64_t f = fi;                                                                                  \
    uint32_t r = a;                                                                                   \
    if (w == 8)                                                                                       \
      __asm__ volatile("push %[f]\n popfq\n " INSN "b %b[d]\n pushfq\n pop %[f]"                      \
                       : [d] "+q"(r), [f] "+r"(f) : : "cc");                                          \
    else if (w == 16)                                                                                 \
      __asm__ volatile("push %[f]\n popfq\n " INSN "w %w[d]\n pushfq\n pop %[f]"                      \
                       : [d] "+r"(r), [f] "+r"(f) : : "cc");                                          \
    else                                                                                              \
      __asm__ volatile("push %[f]\n popfq\n " INSN "l %k[d]\n pushfq\n pop %[f]"                      \
                       : [d] "+r"(r), [f] "+r"(f) : : "cc");                                          \
    emit(INSN, w, a, 0, 0, fi, r & mask_of(w), 0, f);                                                 \
  }
ALU1(r_inc, "inc")
ALU1(r_dec, "dec")
ALU1(r_neg, "neg")
ALU1(r_not, "not")

/* Shifts and rotates by CL. */
#define SHIFT(NAME, INSN)                                                                             \
  static void NAME(int w, uint32_t a, uint32_t cnt, uint64_t fi) {                                    \
    uint64_t f = fi;                                                                                  \
    uint32_t r = a;                                                                                   \
    uint8_t c = (uint8_t)cnt;                                                                         \
    if (w == 8)                                                                                       \
      __asm__ volatile("push %[f]\n popfq\n " INSN "b %%cl, %b[d]\n pushfq\n pop %[f]"                \
                       : [d] "+q"(r), [f] "+r"(f) : "c"(c) : "cc");                                   \
    else if (w == 16)                                                                                 \
      __asm__ volatile("push %[f]\n popfq\n " INSN "w %%cl, %w[d]\n pushfq\n pop %[f]"                \
                       : [d] "+r"(r), [f] "+r"(f) : "c"(c) : "cc");                                   \
    else                                                                                              \
      __asm__ volatile("push %[f]\n popfq\n " INSN "l %%cl, %k[d]\n pushfq\n pop %[f]"                \
                       : [d] "+r"(r), [f] "+r"(f) : "c"(c) : "cc");                                   \
    emit(INSN, w, a, 0, c, fi, r & mask_of(w), 0, f);                                                 \
  }
SHIFT(r_shl, "shl")
SHIFT(r_shr, "shr")
SHIFT(r_sar, "sar")
SHIFT(r_rol, "rol")
SHIFT(r_ror, "ror")
SHIFT(r_rcl, "rcl")
SHIFT(r_rcr, "rcr")

#define DSHIFT(NAME, INSN)                                                                            \
  static void NAME(int w, uint32_t a, uint32_t b, uint32_t cnt, uint64_t fi) {                        \
    uint64_t f = fi;                                                                                  \
    uint32_t r = a;                                                                                   \
    uint8_t c = (uint8_t)cnt;                                                                         \
    if (w == 16)                                                                                      \
      __asm__ volatile("push %[f]\n popfq\n " INSN "w %%cl, %w[s], %w[d]\n pushfq\n pop %[f]"         \
                       : [d] "+r"(r), [f] "+r"(f) : [s] "r"(b), "c"(c) : "cc");                       \
    else                                                                                              \
      __asm__ volatile("push %[f]\n popfq\n " INSN "l %%cl, %k[s], %k[d]\n pushfq\n pop %[f]"         \
                       : [d] "+r"(r), [f] "+r"(f) : [s] "r"(b), "c"(c) : "cc");                       \
    emit(INSN, w, a, b, c, fi, r & mask_of(w), 0, f);                                                 \
  }
DSHIFT(r_shld, "shld")
DSHIFT(r_shrd, "shrd")

/* One-operand MUL/IMUL/DIV/IDIV: a = accumulator (AX for 8-bit, EDX:EAX packed as a/b). */
#define MULDIV(NAME, INSN)                                                                            \
  static void NAME(int w, uint32_t lo, uint32_t hi, uint32_t s, uint64_t fi) {                       \
    uint64_t f = fi;                                                                                  \
    uint32_t ax = lo, dx = hi;                                                                        \
    if (w == 8)                                                                                       \
      __asm__ volatile("push %[f]\n popfq\n " INSN "b %b[s]\n pushfq\n pop %[f]"                      \
                       : "+a"(ax), "+d"(dx), [f] "+r"(f) : [s] "q"(s) : "cc");                        \
    else if (w == 16)                                                                                 \
      __asm__ volatile("push %[f]\n popfq\n " INSN "w %w[s]\n pushfq\n pop %[f]"                      \
                       : "+a"(ax), "+d"(dx), [f] "+r"(f) : [s] "r"(s) : "cc");                        \
    else                                                                                              \
      __asm__ volatile("push %[f]\n popfq\n " INSN "l %k[s]\n pushfq\n pop %[f]"                      \
                       : "+a"(ax), "+d"(dx), [f] "+r"(f) : [s] "r"(s) : "cc");                        \
    if (w == 8)                                                                                       \
      emit(#NAME + 2, w, lo, hi, s, fi, ax & 0xffff, 0, f);                                                \
    else                                                                                              \
      emit(#NAME + 2, w, lo, hi, s, fi, ax & mask_of(w), dx & mask_of(w), f);                              \
  }
MULDIV(r_mul, "mul")
MULDIV(r_imul1, "imul")
MULDIV(r_div, "div")
MULDIV(r_idiv, "idiv")

static void r_bswap(uint32_t a, uint64_t fi) {
  uint32_t r = a;
  __asm__ volatile("bswap %k0" : "+r"(r));
  emit("bswap", 32, a, 0, 0, fi, r, 0, fi);
}

static void r_xadd(int w, uint32_t a, uint32_t b, uint64_t fi) {
  uint64_t f = fi;
  uint32_t d = a, s = b;
  if (w == 8)
    __asm__ volatile("push %[f]\n popfq\n xaddb %b[s], %b[d]\n pushfq\n pop %[f]"
                     : [d] "+q"(d), [s] "+q"(s), [f] "+r"(f) : : "cc");
  else if (w == 16)
    __asm__ volatile("push %[f]\n popfq\n xaddw %w[s], %w[d]\n pushfq\n pop %[f]"
                     : [d] "+r"(d), [s] "+r"(s), [f] "+r"(f) : : "cc");
  else
    __asm__ volatile("push %[f]\n popfq\n xaddl %k[s], %k[d]\n pushfq\n pop %[f]"
                     : [d] "+r"(d), [s] "+r"(s), [f] "+r"(f) : : "cc");
  emit("xadd", w, a, b, 0, fi, d & mask_of(w), s & mask_of(w), f);
}

/* CMPXCHG dst, src with the accumulator in c; out0 = dst after, out1 = accumulator after. */
static void r_cmpxchg(int w, uint32_t dst, uint32_t src, uint32_t acc, uint64_t fi) {
  uint64_t f = fi;
  uint32_t d = dst, a = acc;
  if (w == 8)
    __asm__ volatile("push %[f]\n popfq\n cmpxchgb %b[s], %b[d]\n pushfq\n pop %[f]"
                     : [d] "+q"(d), "+a"(a), [f] "+r"(f) : [s] "q"(src) : "cc");
  else if (w == 16)
    __asm__ volatile("push %[f]\n popfq\n cmpxchgw %w[s], %w[d]\n pushfq\n pop %[f]"
                     : [d] "+r"(d), "+a"(a), [f] "+r"(f) : [s] "r"(src) : "cc");
  else
    __asm__ volatile("push %[f]\n popfq\n cmpxchgl %k[s], %k[d]\n pushfq\n pop %[f]"
                     : [d] "+r"(d), "+a"(a), [f] "+r"(f) : [s] "r"(src) : "cc");
  emit("cmpxchg", w, dst, src, acc, fi, d & mask_of(w), a & mask_of(w), f);
}

/* SETcc and CMOVcc for every condition over every status-flag combination that matters. */
#define COND(CC)                                                                                      \
  static void r_set##CC(uint64_t fi) {                                                                \
    uint64_t f = fi;                                                                                  \
    uint32_t r = 0, m = 0x11111111;                                                                   \
    __asm__ volatile("push %[f]\n popfq\n set" #CC " %b[r]\n cmov" #CC "l %[s], %k[r2]\n pushfq\n pop %[f]" \
                     : [r] "+q"(r), [r2] "+r"(m), [f] "+r"(f) : [s] "r"(0x22222222u) : "cc");        \
    emit("set" #CC, 8, 0, 0, 0, fi, r & 0xff, m, f);                                                  \
  }
COND(o) COND(no) COND(b) COND(ae) COND(e) COND(ne) COND(be) COND(a)
COND(s) COND(ns) COND(p) COND(np) COND(l) COND(ge) COND(le) COND(g)

static uint32_t pick(int w) {
  uint32_t m = mask_of(w);
  uint32_t r = rnd();
  switch (r & 3) {
  case 0:
    return EDGE[rnd() % NEDGE] & m;
  case 1:
    return (rnd() & 0x1f) & m;
  default:
    return rnd() & m;
  }
}

static uint64_t flags_in(void) { return 0x202u | (rnd() & STATUS); }

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "alu";
  int n = 300;
  int widths[3] = {8, 16, 32};
  if (!strcmp(which, "alu")) {
    void (*f2[])(int, uint32_t, uint32_t, uint64_t) = {r_add, r_adc, r_sub, r_sbb, r_and, r_or, r_xor,
                                                       r_cmp, r_test, r_xadd};
    for (unsigned k = 0; k < sizeof f2 / sizeof f2[0]; k++)
      for (int wi = 0; wi < 3; wi++) {
        int w = widths[wi];
        for (unsigned i = 0; i < NEDGE; i++)
          for (unsigned j = 0; j < NEDGE; j += 3) f2[k](w, EDGE[i] & mask_of(w), EDGE[j] & mask_of(w), flags_in());
        for (int i = 0; i < n; i++) f2[k](w, pick(w), pick(w), flags_in());
      }
    void (*f1[])(int, uint32_t, uint64_t) = {r_inc, r_dec, r_neg, r_not};
    for (unsigned k = 0; k < 4; k++)
      for (int wi = 0; wi < 3; wi++) {
        int w = widths[wi];
        for (unsigned i = 0; i < NEDGE; i++) f1[k](w, EDGE[i] & mask_of(w), flags_in());
        for (int i = 0; i < n / 3; i++) f1[k](w, pick(w), flags_in());
      }
    for (int wi = 0; wi < 3; wi++) {
      int w = widths[wi];
      for (int i = 0; i < n; i++) {
        uint32_t acc = pick(w), d = (rnd() & 1) ? acc : pick(w);
        r_cmpxchg(w, d, pick(w), acc, flags_in());
      }
    }
    for (int i = 0; i < 64; i++) r_bswap(i < (int)NEDGE ? EDGE[i] : rnd(), flags_in());
    void (*fc[])(uint64_t) = {r_seto, r_setno, r_setb, r_setae, r_sete, r_setne, r_setbe, r_seta,
                              r_sets, r_setns, r_setp, r_setnp, r_setl, r_setge, r_setle, r_setg};
    for (unsigned k = 0; k < 16; k++)
      for (uint32_t combo = 0; combo < 64; combo++) {
        /* Every combination of CF PF AF ZF SF OF. */
        uint32_t bits[6] = {0x1, 0x4, 0x10, 0x40, 0x80, 0x800};
        uint64_t fi = 0x202;
        for (int b = 0; b < 6; b++)
          if (combo & (1u << b)) fi |= bits[b];
        fc[k](fi);
      }
  } else if (!strcmp(which, "shift")) {
    void (*fs[])(int, uint32_t, uint32_t, uint64_t) = {r_shl, r_shr, r_sar, r_rol, r_ror, r_rcl, r_rcr};
    for (unsigned k = 0; k < 7; k++)
      for (int wi = 0; wi < 3; wi++) {
        int w = widths[wi];
        for (uint32_t c = 0; c < 256; c++) {
          fs[k](w, pick(w), c, flags_in());
          if (c < 40) {
            fs[k](w, EDGE[c % NEDGE] & mask_of(w), c, flags_in());
            fs[k](w, pick(w), c, flags_in());
          }
        }
      }
    void (*fd[])(int, uint32_t, uint32_t, uint32_t, uint64_t) = {r_shld, r_shrd};
    for (unsigned k = 0; k < 2; k++)
      for (int wi = 1; wi < 3; wi++) {
        int w = widths[wi];
        for (uint32_t c = 0; c < 256; c++) {
          fd[k](w, pick(w), pick(w), c, flags_in());
          if (c < 40) fd[k](w, pick(w), pick(w), c, flags_in());
        }
      }
  } else if (!strcmp(which, "muldiv")) {
    for (int wi = 0; wi < 3; wi++) {
      int w = widths[wi];
      for (int i = 0; i < n * 2; i++) {
        uint32_t a = pick(w), s = pick(w);
        r_mul(w, w == 8 ? (a & 0xff) | (rnd() & 0xff00) : a, w == 8 ? 0 : rnd() & mask_of(w), s, flags_in());
        r_imul1(w, w == 8 ? (a & 0xff) | (rnd() & 0xff00) : a, w == 8 ? 0 : rnd() & mask_of(w), s, flags_in());
        if (w != 8) r_imul2(w, a, s, flags_in());
      }
      /* Division: only inputs that do not raise #DE (checked by the caller's arithmetic). */
      int made = 0;
      while (made < n * 2) {
        uint32_t s = pick(w);
        uint32_t lo = rnd() & mask_of(w), hi = (rnd() & 1) ? (rnd() & 0x3) & mask_of(w) : rnd() & mask_of(w);
        if (w == 8) {
          lo = rnd() & 0xffff;
          hi = 0;
        }
        if (s == 0) continue;
        uint64_t num = w == 8 ? lo : ((uint64_t)hi << w) | lo;
        uint64_t q = num / s;
        int du = q <= mask_of(w);
        int64_t sn = w == 8 ? (int16_t)lo : w == 16 ? (int32_t)(((hi & 0xffff) << 16) | (lo & 0xffff)) : (int64_t)num;
        int64_t ss = w == 8 ? (int8_t)s : w == 16 ? (int16_t)s : (int32_t)s;
        int ok = 0;
        if (!(ss == -1 && sn == (w == 8 ? -32768 : w == 16 ? -2147483647LL - 1 : INT64_MIN))) {
          int64_t sq = sn / ss;
          int64_t lim = w == 8 ? 127 : w == 16 ? 32767 : 2147483647;
          ok = sq <= lim && sq >= -lim - 1;
        }
        if (du) r_div(w, lo, hi, s, flags_in());
        if (ok) r_idiv(w, lo, hi, s, flags_in());
        if (du || ok) made++;
      }
    }
  } else if (!strcmp(which, "bits")) {
    void (*fb[])(int, uint32_t, uint32_t, uint64_t) = {r_bt, r_bts, r_btr, r_btc};
    for (unsigned k = 0; k < 4; k++)
      for (int wi = 1; wi < 3; wi++) {
        int w = widths[wi];
        for (int i = 0; i < n; i++) fb[k](w, pick(w), rnd() & mask_of(w), flags_in());
      }
    for (int wi = 1; wi < 3; wi++) {
      int w = widths[wi];
      for (int i = 0; i < n; i++) {
        uint32_t s = (i < 20) ? 0 : (rnd() & 1) ? (1u << (rnd() % w)) : pick(w);
        r_bsf(w, 0x5a5a5a5a & mask_of(w), s, flags_in());
        r_bsr(w, 0x5a5a5a5a & mask_of(w), s, flags_in());
      }
    }
  } else {
    fprintf(stderr, "usage: recorder alu|shift|muldiv|bits\n");
    return 2;
  }
  return 0;
}
