/**
 * The declarative row format: one row per instruction form. Rows are read by
 * `scripts/generate.ts`, which derives the decoder's lookup tables (`src/generated/`), and by any
 * layer that needs to know an instruction form (assembler, rings, translator).
 *
 * A row is `[code, mnemonic, encoding, operands, flags, attributes]`:
 *
 * - `code`: the form's stable lower-case name, `<mnemonic>_<operands>` (`add_rm32_r32`).
 * - `mnemonic`: lower-case mnemonic.
 * - `encoding`: space-separated tokens, in this order:
 *   - mandatory prefix (optional): `p66`, `pF3`, `pF2` or `pNP` (no 66/F2/F3 allowed) or `pNR` (no F2/F3; 66 is the operand-size prefix);
 *   - opcode bytes in hex: the escape bytes `0F`, `0F 38`, `0F 3A` then the opcode byte;
 *     `+r` right after the opcode byte puts a register number in its low three bits;
 *   - ModRM: `/r` (any ModRM), `/0`..`/7` (reg field fixed), or a fixed ModRM byte in hex (`C1`);
 *     memory-only and register-only forms follow from the operand kinds (`m*`, `rr*`);
 *   - conditions: `o16`, `o32`, `o64` (effective operand size), `a16`, `a32`, `a64` (effective
 *     address size), `i64` (invalid in 64-bit mode), `x64` (64-bit mode only), `d64` (operand size
 *     defaults to 64 in 64-bit mode), `f64` (operand size is always 64 in 64-bit mode), `rexw`
 *     (REX.W must be set), `norexw`, `w0` / `w1` (VEX.W).
 * - `operands`: space-separated operand kinds (see `OPERAND_KINDS` in `scripts/generate.ts`).
 * - `flags`: EFLAGS effects, `r:` read, `w:` written, `s:` set, `c:` cleared, `u:` undefined,
 *   each followed by letters `o s z a p c d i t` (and `n` NT, `x` AC, `v` VM/VIF, `l` IOPL,
 *   `f` RF), e.g. `w:oszapc`.
 * - `attributes`: space-separated: `lock` (accepts LOCK with a memory destination), `rep`,
 *   `repe` (accept REP prefixes), `cpl0` / `iopl` (privilege as the SDM states it), `flow:<kind>`,
 *   `cpu:<feature>`, `rw:<accesses>` (operand access, one letter per operand: r w m(read-write)
 *   n(none) c(conditional write)), `nomem` etc.
 */
export type Row = readonly [
  code: string,
  mnemonic: string,
  encoding: string,
  operands: string,
  flags: string,
  attributes: string,
];
