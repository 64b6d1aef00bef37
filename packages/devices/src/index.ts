export {
  type Clock,
  DeviceStateError,
  type IrqLine,
  NO_IRQ,
  type PortDevice,
  type TimedDevice,
} from './device';
export { PIC_PORTS, PicPair } from './pic';
export { PIT_HZ, PIT_PORTS, Pit8254 } from './pit';
export { COM_PORTS, UART_HOST_QUEUE_LIMIT, Uart16550 } from './uart';
