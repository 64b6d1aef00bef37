export { HypervisorError, type HypervisorErrorCode, parseMemorySize } from './errors';
export {
  LINUX_LAYOUT,
  type LinuxBootInfo,
  type LinuxBootOptions,
  type LinuxImage,
  loadLinux,
  MIN_PROTOCOL,
  parseBzImage,
} from './linux-boot';
export { DEFAULT_PAUSE_LOOP_EXITING, type MachineOptions, type Outcome, VirtualMachine } from './machine';
export {
  findMultibootHeader,
  loadMultiboot,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_HEADER_MAGIC,
  MULTIBOOT_LAYOUT,
  type MultibootBootInfo,
  type MultibootBootOptions,
  MultibootFlag,
  type MultibootImage,
  MultibootInfoFlag,
  type MultibootModule,
  type MultibootSegment,
  parseMultiboot,
} from './multiboot';
export { PortBus } from './port-bus';
export { CpuidEdx, type GuestProfile, I686_PROFILE, Msr } from './profile';
export {
  describeExpectation,
  indexAfter,
  runSession,
  SerialCollector,
  type SessionOptions,
  type SessionResult,
  type SessionStep,
} from './session';
