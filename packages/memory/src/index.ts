export { MemoryError, type MemoryErrorCode } from './errors';
export {
  CanonicalFault,
  isCanonical,
  linear64,
  Mmu,
  type MmuState,
  PageFault,
  TLB_HIGH_ENTRIES,
  TLB_MASKS,
  TlbFlag,
} from './mmu';
export {
  Access,
  CR0_PG,
  CR0_WP,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  CR4_SMAP,
  CR4_SMEP,
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  loadPdptes,
  MAX_PHYS_BITS,
  type PagingControl,
  PagingMode,
  PfError,
  pagingMode,
  WalkResult,
  walk,
} from './paging';
export {
  type CodeWriteHook,
  type GuestMemory,
  MAX_RAM,
  type MmioHandler,
  PAGE_SIZE,
  PageKind,
  PhysicalMemory,
} from './physical';
export { type MemorySnapshot, restoreMemory, saveMemory } from './snapshot';
