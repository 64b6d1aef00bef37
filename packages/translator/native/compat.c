/*
 * Compatibility-mode recorder: runs instructions that do not exist in 64-bit mode (BCD) on this
 * host by far-calling 32-bit code through the 32-bit user code segment (selector 0x23) of the
 * x86-64 Linux kernel. Prints `<op> <imm> <ax> <flagsIn> <axOut> <flagsOut>` (hex; flags are
 * the six status flags).
 * Built with: gcc -O1 -no-pie -mno-red-zone -o compat compat.c
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static uint8_t *code;
static uint8_t *stack;
static uint32_t *state; /* [0] eax in, [1] eflags in, [2] eax out, [3] eflags out */
static uint32_t *farptr;

static uint32_t rng_state = 0x6b43a9b5u;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void put32(uint8_t **p, uint32_t v) {
  memcpy(*p, &v, 4);
  *p += 4;
}

/* push ss; pop ds; push ss; pop es; mov eax,[s]; push dword [s+4]; popfd; INSN; pushfd;
   pop dword [s+12]; mov [s+8],eax; retf */
static void build(const uint8_t *insn, int len) {
  uint32_t s = (uint32_t)(uintptr_t)state;
  uint8_t *p = code;
  *p++ = 0x16; *p++ = 0x1f; *p++ = 0x16; *p++ = 0x07;
  *p++ = 0xa1; put32(&p, s);
  *p++ = 0xff; *p++ = 0x35; put32(&p, s + 4);
  *p++ = 0x9d;
  memcpy(p, insn, len);
  p += len;
  *p++ = 0x9c;
  *p++ = 0x8f; *p++ = 0x05; put32(&p, s + 12);
  *p++ = 0xa3; put32(&p, s + 8);
  *p++ = 0xcb;
}

static void run(void) {
  uint32_t low_sp = (uint32_t)(uintptr_t)(stack + 4096);
  __asm__ volatile("mov %%rsp, %%r12\n mov %[sp], %%esp\n lcall *(%[fp])\n mov %%r12, %%rsp\n"
                   :
                   : [sp] "r"(low_sp), [fp] "r"(farptr)
                   : "r12", "memory", "cc", "rax");
}

static void record(const char *name, const uint8_t *insn, int len, int imm, uint32_t ax, uint32_t flags) {
  build(insn, len);
  state[0] = ax;
  state[1] = 0x202 | (flags & 0x8d5);
  run();
  printf("%s %x %x %x %x %x\n", name, imm, ax & 0xffff, flags & 0x8d5, state[2] & 0xffff, state[3] & 0x8d5);
}

int main(void) {
  code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  stack = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (code == MAP_FAILED || stack == MAP_FAILED) return 1;
  state = (uint32_t *)(stack + 8192 - 64);
  farptr = (uint32_t *)(stack + 16);
  farptr[0] = (uint32_t)(uintptr_t)code;
  farptr[1] = 0x23;
  static const struct { const char *name; uint8_t op; } one[] = {{"daa", 0x27}, {"das", 0x2f}, {"aaa", 0x37}, {"aas", 0x3f}};
  for (int k = 0; k < 4; k++)
    for (uint32_t al = 0; al < 256; al++)
      for (uint32_t f = 0; f < 4; f++) {
        /* every AL with each AF/CF combination; random AH and other flags */
        uint32_t flags = (rnd() & 0x8c4) | (f & 1 ? 0x1 : 0) | (f & 2 ? 0x10 : 0);
        record(one[k].name, &one[k].op, 1, 0, ((rnd() & 0xff) << 8) | al, flags);
      }
  static const uint8_t bases[] = {10, 16, 7, 255, 1};
  for (int b = 0; b < 5; b++)
    for (int i = 0; i < 128; i++) {
      uint8_t aam[2] = {0xd4, bases[b]};
      uint8_t aad[2] = {0xd5, bases[b]};
      uint32_t ax = rnd() & 0xffff;
      record("aam", aam, 2, bases[b], ax, rnd());
      record("aad", aad, 2, bases[b], ax, rnd());
    }
  return 0;
}
