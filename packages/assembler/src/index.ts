export { type AsmTag, type AsmValue, asm } from './asm-tag';
export { type AssembleOptions, type AssembleResult, assemble, type ListingLine } from './assemble';
export { AssemblerError, type AssemblerErrorCode, type SourcePosition } from './errors';
