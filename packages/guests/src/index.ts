export {
  DEMO_COMMAND_LINE,
  DEMO_KERNEL_SOURCE,
  DEMO_KERNEL_SYMBOLS,
  DEMO_PROMPT,
  demoKernel,
} from './demo';
