import type { Handler } from './handlers';

/** x87 handlers by form name (filled in below). */
export const X87_HANDLERS: Record<string, Handler> = {};
