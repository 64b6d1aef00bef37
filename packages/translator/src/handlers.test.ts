import { CODE_COUNT, CODE_NAMES } from '@ringzero/decoder';
import { describe, expect, it } from 'vitest';
import { implemented } from './handlers';

/**
 * Families tier 0 deliberately does not execute yet (they raise #UD): 64-bit-only forms,
 * MMX/SSE and later vector extensions, virtualization extensions, and instructions newer than
 * the i686 (Pentium II) this tier models (among them SERIALIZE, WAITPKG's TPAUSE/UMONITOR/UMWAIT
 * and AMD's MONITORX/MWAITX, which the `monitor`/`mwait` entries cover).
 */
const NOT_YET =
  /64|q$|rcx|rax|cdqe|cqo|xmm|mm|^v|^p[a-z]|^(add|sub|mul|div|min|max|sqrt|and|or|xor|cmp|ucom|com|cvt|mov|unpck|shuf|rcp|rsq|hadd|hsub|ldmx|stmx|blend|dp|extract|insert|round|aes|sha|pclmul|lddqu|crc32|popcnt|lzcnt|tzcnt|movbe|rdrand|rdseed|xsave|xrstor|clflush|vm|invept|invvpid|invpcid|rdfsbase|rdgsbase|wrfsbase|wrgsbase|enclv|monitor|mwait|clac|stac|xgetbv|xsetbv|xend|xtest|xbegin|xabort|stgi|clgi|skinit|invlpga|swapgs|syscall|sysret|rdtscp|rdpid|emms|maskmov|movnt|adcx|adox|rdpkru|wrpkru|cldemote|incssp|rdssp|saveprevssp|rstorssp|setssbsy|clrssbsy|wrss|wruss|serialize|tpause|umonitor|umwait)/;

describe('handler table', () => {
  it('every general-purpose, system and x87 form an i686 has is implemented (no #UD placeholder)', () => {
    const missing: string[] = [];
    for (let code = 1; code < CODE_COUNT; code++) {
      const name = CODE_NAMES[code] ?? '';
      if (!implemented(code) && !NOT_YET.test(name)) missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('gives semantics to more than 840 of the decoder forms', () => {
    let n = 0;
    for (let code = 1; code < CODE_COUNT; code++) if (implemented(code)) n++;
    expect(n).toBeGreaterThan(840);
  });
});
