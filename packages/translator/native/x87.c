/*
 * Native x87 recorder: runs x87 operations on this host with the precision control set to
 * double (control word 0x027F, all exceptions masked) and prints one vector per line:
 *
 *   <op> <a> <b> <result> <status>
 *
 * a, b and result are IEEE double bit patterns (hex), status is the x87 status word after the
 * operation (for fcomi: EFLAGS & (ZF|PF|CF) in the low bits instead).
 * Built with: gcc -O1 -mno-red-zone -o x87 x87.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static uint64_t bits(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

static const double EDGE[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -3.0, 1e300, -1e300, 1e-300, 3.141592653589793, 10.0, 0.1, 7.5, -2.5};
#define NEDGE (sizeof EDGE / sizeof EDGE[0])

static double rdouble(int range) {
  if ((rnd() & 7) == 0) return EDGE[rnd() % NEDGE];
  double m = (double)(rnd() & 0xfffffff) / 268435456.0 + 1.0;
  int e = (int)(rnd() % (2 * range + 1)) - range;
  return ((rnd() & 1) ? -m : m) * ldexp(1.0, e);
}

static const uint16_t CW = 0x027f;

#define MEMOP(NAME, INSN)                                                                             \
  static void NAME(double a, double b) {                                                              \
    double r;                                                                                         \
    uint16_t sw;                                                                                      \
    __asm__ volatile("fninit\n fldcw %[cw]\n fldl %[a]\n " INSN " %[b]\n fnstsw %[sw]\n fstpl %[r]"   \
                     : [r] "=m"(r), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(CW));            \
    printf("%s %016llx %016llx %016llx %x\n", #NAME + 2, (unsigned long long)bits(a),                \
           (unsigned long long)bits(b), (unsigned long long)bits(r), sw);                             \
  }
MEMOP(r_fadd, "faddl")
MEMOP(r_fsub, "fsubl")
MEMOP(r_fsubr, "fsubrl")
MEMOP(r_fmul, "fmull")
MEMOP(r_fdiv, "fdivl")
MEMOP(r_fdivr, "fdivrl")

#define UNOP(NAME, INSN)                                                                              \
  static void NAME(double a) {                                                                        \
    double r;                                                                                         \
    uint16_t sw;                                                                                      \
    __asm__ volatile("fninit\n fldcw %[cw]\n fldl %[a]\n " INSN "\n fnstsw %[sw]\n fstpl %[r]"        \
                     : [r] "=m"(r), [sw] "=m"(sw) : [a] "m"(a), [cw] "m"(CW));                        \
    printf("%s %016llx 0 %016llx %x\n", #NAME + 2, (unsigned long long)bits(a),                       \
           (unsigned long long)bits(r), sw);                                                          \
  }
UNOP(r_fsqrt, "fsqrt")
UNOP(r_fsin, "fsin")
UNOP(r_fcos, "fcos")
UNOP(r_frndint, "frndint")
UNOP(r_f2xm1, "f2xm1")
UNOP(r_fabs, "fabs")
UNOP(r_fchs, "fchs")
UNOP(r_fptan, "fptan\n fstp %%st(0)")

/* Binary stack operations: ST(1) = a, ST(0) = b before the instruction. */
#define STKOP(NAME, INSN)                                                                             \
  static void NAME(double a, double b) {                                                              \
    double r;                                                                                         \
    uint16_t sw;                                                                                      \
    __asm__ volatile("fninit\n fldcw %[cw]\n fldl %[a]\n fldl %[b]\n " INSN "\n fnstsw %[sw]\n fstpl %[r]" \
                     : [r] "=m"(r), [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(CW));            \
    printf("%s %016llx %016llx %016llx %x\n", #NAME + 2, (unsigned long long)bits(a),                \
           (unsigned long long)bits(b), (unsigned long long)bits(r), sw);                             \
  }
STKOP(r_fpatan, "fpatan")
STKOP(r_fyl2x, "fyl2x")
STKOP(r_fscale, "fscale")
STKOP(r_fprem, "fprem")
STKOP(r_fprem1, "fprem1")

static void r_fcom(double a, double b) {
  uint16_t sw;
  __asm__ volatile("fninit\n fldcw %[cw]\n fldl %[a]\n fcompl %[b]\n fnstsw %[sw]"
                   : [sw] "=m"(sw) : [a] "m"(a), [b] "m"(b), [cw] "m"(CW));
  printf("fcom %016llx %016llx 0 %x\n", (unsigned long long)bits(a), (unsigned long long)bits(b), sw);
}

static void r_fcomi(double a, double b) {
  uint64_t f;
  __asm__ volatile("fninit\n fldcw %[cw]\n fldl %[b]\n fldl %[a]\n fcomip %%st(1), %%st\n pushfq\n pop %[f]\n fstp %%st(0)"
                   : [f] "=r"(f) : [a] "m"(a), [b] "m"(b), [cw] "m"(CW) : "cc");
  printf("fcomi %016llx %016llx 0 %x\n", (unsigned long long)bits(a), (unsigned long long)bits(b),
         (unsigned)(f & 0x45));
}

int main(void) {
  void (*bin[])(double, double) = {r_fadd, r_fsub, r_fsubr, r_fmul, r_fdiv, r_fdivr, r_fcom, r_fcomi};
  for (unsigned k = 0; k < sizeof bin / sizeof bin[0]; k++) {
    for (unsigned i = 0; i < NEDGE; i++)
      for (unsigned j = 0; j < NEDGE; j += 2) bin[k](EDGE[i], EDGE[j]);
    for (int i = 0; i < 200; i++) bin[k](rdouble(60), rdouble(60));
  }
  for (int i = 0; i < 200; i++) {
    r_fsqrt(fabs(rdouble(60)));
    r_fsin(rdouble(8));
    r_fcos(rdouble(8));
    r_fptan(rdouble(3));
    r_frndint(rdouble(20));
    r_f2xm1(ldexp(rdouble(0), -1));
    r_fabs(rdouble(60));
    r_fchs(rdouble(60));
    r_fpatan(rdouble(20), rdouble(20));
    r_fyl2x(rdouble(10), fabs(rdouble(20)));
    r_fscale(rdouble(20), rdouble(5));
    r_fprem(rdouble(30), rdouble(10));
    r_fprem1(rdouble(30), rdouble(10));
  }
  return 0;
}
