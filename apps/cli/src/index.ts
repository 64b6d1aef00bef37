export { ESCAPE_HELP, type EscapeAction, EscapeReader } from './escape';
export { describeOutcome, exitStatus, prepare, type RunOptions, statsText, UsageError } from './run';
