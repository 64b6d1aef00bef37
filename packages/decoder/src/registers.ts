/**
 * Register numbering. Each register has one small integer id; ids of one class are contiguous
 * and in encoding order, so `Register.eax + n` is the 32-bit register with number n.
 */
const NAMES8 = [
  'al',
  'cl',
  'dl',
  'bl',
  'ah',
  'ch',
  'dh',
  'bh',
  'spl',
  'bpl',
  'sil',
  'dil',
  'r8b',
  'r9b',
  'r10b',
  'r11b',
  'r12b',
  'r13b',
  'r14b',
  'r15b',
] as const;
const NAMES16 = [
  'ax',
  'cx',
  'dx',
  'bx',
  'sp',
  'bp',
  'si',
  'di',
  'r8w',
  'r9w',
  'r10w',
  'r11w',
  'r12w',
  'r13w',
  'r14w',
  'r15w',
] as const;
const NAMES32 = [
  'eax',
  'ecx',
  'edx',
  'ebx',
  'esp',
  'ebp',
  'esi',
  'edi',
  'r8d',
  'r9d',
  'r10d',
  'r11d',
  'r12d',
  'r13d',
  'r14d',
  'r15d',
] as const;
const NAMES64 = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
] as const;
const SEGMENTS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

function numbered(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** Register names indexed by register id; id 0 is "no register". */
export const REGISTER_NAMES: readonly string[] = [
  '',
  ...NAMES8,
  ...NAMES16,
  ...NAMES32,
  ...NAMES64,
  'eip',
  'rip',
  ...SEGMENTS,
  ...numbered('cr', 16),
  ...numbered('dr', 16),
  ...numbered('st', 8),
  ...numbered('mm', 8),
  ...numbered('xmm', 16),
  ...numbered('ymm', 16),
  ...numbered('k', 8),
];

/** Register ids (`Register.eax`, `Register.cr0`, ...) and the first id of each class. */
export const Register = {
  none: 0,
  al: 1,
  cl: 2,
  dl: 3,
  bl: 4,
  ah: 5,
  ch: 6,
  dh: 7,
  bh: 8,
  spl: 9,
  r8b: 13,
  ax: 21,
  cx: 22,
  dx: 23,
  bx: 24,
  sp: 25,
  bp: 26,
  si: 27,
  di: 28,
  r8w: 29,
  eax: 37,
  ecx: 38,
  edx: 39,
  ebx: 40,
  esp: 41,
  ebp: 42,
  esi: 43,
  edi: 44,
  r8d: 45,
  rax: 53,
  rcx: 54,
  rdx: 55,
  rbx: 56,
  rsp: 57,
  rbp: 58,
  rsi: 59,
  rdi: 60,
  r8: 61,
  eip: 69,
  rip: 70,
  es: 71,
  cs: 72,
  ss: 73,
  ds: 74,
  fs: 75,
  gs: 76,
  cr0: 77,
  dr0: 93,
  st0: 109,
  mm0: 117,
  xmm0: 125,
  ymm0: 141,
  /** AVX-512 opmask registers k0–k7. */
  k0: 157,
} as const;

/** Number of register ids (one past the last). */
export const REGISTER_COUNT = REGISTER_NAMES.length;

/** The lower-case name of a register id (`'eax'`), or `''` for none / unknown ids. */
export function registerName(reg: number): string {
  return REGISTER_NAMES[reg] ?? '';
}

/** The register id for a lower-case name, or 0 when there is none. */
export function registerByName(name: string): number {
  const i = REGISTER_NAMES.indexOf(name.toLowerCase());
  return Math.max(i, 0);
}

/** Size in bytes of a general-purpose, segment or special register (0 for none). */
export function registerSize(reg: number): number {
  if (reg <= 0) return 0;
  if (reg < Register.ax) return 1;
  if (reg < Register.eax) return 2;
  if (reg < Register.rax) return 4;
  if (reg < Register.eip) return 8;
  if (reg === Register.eip) return 4;
  if (reg === Register.rip) return 8;
  if (reg < Register.cr0) return 2;
  if (reg < Register.st0) return 8;
  if (reg < Register.mm0) return 10;
  if (reg < Register.xmm0) return 8;
  if (reg < Register.ymm0) return 16;
  if (reg < Register.k0) return 32;
  if (reg < REGISTER_COUNT) return 8;
  return 0;
}

/** The number (0–15) of a register within its class: `registerNumber(Register.ecx) === 1`. */
export function registerNumber(reg: number): number {
  if (reg < Register.ah) return reg - Register.al;
  if (reg < Register.spl) return reg - Register.ah + 4;
  if (reg < Register.r8b) return reg - Register.spl + 4;
  if (reg < Register.ax) return reg - Register.r8b + 8;
  if (reg < Register.eax) return reg - Register.ax;
  if (reg < Register.rax) return reg - Register.eax;
  if (reg < Register.eip) return reg - Register.rax;
  if (reg < Register.es) return 0;
  if (reg < Register.cr0) return reg - Register.es;
  if (reg < Register.dr0) return reg - Register.cr0;
  if (reg < Register.st0) return reg - Register.dr0;
  if (reg < Register.mm0) return reg - Register.st0;
  if (reg < Register.xmm0) return reg - Register.mm0;
  if (reg < Register.ymm0) return reg - Register.xmm0;
  if (reg < Register.k0) return reg - Register.ymm0;
  return reg - Register.k0;
}
