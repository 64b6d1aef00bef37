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
export { type MachineOptions, type Outcome, VirtualMachine } from './machine';
export { PortBus } from './port-bus';
export { CpuidEdx, type GuestProfile, I686_PROFILE } from './profile';
