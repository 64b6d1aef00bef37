export {
  type Clock,
  DeviceStateError,
  type IrqLine,
  NO_IRQ,
  type PortDevice,
  type TimedDevice,
} from './device';
export { I8042, I8042_PORTS, I8042_QUEUE_LIMIT } from './i8042';
export { DebugExitPort, MISC_PORTS, PostCodePort, SystemControlPortA } from './misc-ports';
export { PIC_PORTS, PicPair } from './pic';
export { PIT_HZ, PIT_PORTS, Pit8254 } from './pit';
export { RTC_PORTS, Rtc } from './rtc';
export { COM_PORTS, UART_HOST_QUEUE_LIMIT, Uart16550 } from './uart';
export { VGA_TEXT, VgaText } from './vga-text';
