export { type Bitness, Decoder, decode } from './decoder';
export { formatAtt, formatIntel } from './format';
export { CODE_COUNT, CODE_NAMES, Code, CPUID_FEATURE_NAMES, MNEMONIC_NAMES } from './generated/tables';
export {
  codeByName,
  codeName,
  type FormInfo,
  flagsModified,
  flagsRead,
  flowControl,
  formInfo,
  Instruction,
  mnemonicOf,
  PrefixBit,
  privilege,
} from './instruction';
export {
  Flag,
  FlowControl,
  INVALID_REASON_NAMES,
  InvalidReason,
  MEM_SIZE_BYTES,
  MemSize,
  OpAccess,
  OperandDecode,
  OpKind,
  Privilege,
} from './kinds';
export {
  REGISTER_COUNT,
  REGISTER_NAMES,
  Register,
  registerByName,
  registerName,
  registerNumber,
  registerSize,
} from './registers';
export { allRows, type Row } from './rows/index';
