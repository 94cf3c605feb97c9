/**
 * The logger core writes through: the shape of pino's (https://getpino.io), so `coffer serve`
 * hands core the same pino logger it gives Fastify and MQTT, while core depends on no logging
 * package. A line is a message, optionally after an object of fields (`err` for an error).
 */
export interface LogFn {
  (msg: string): void;
  (fields: object, msg?: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger whose every line also carries `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
}

const nothing: LogFn = () => {};

/** Writes nothing: the default of a Core built without a logger (tests, `coffer admin`). */
export const SILENT_LOGGER: Logger = {
  trace: nothing, debug: nothing, info: nothing, warn: nothing, error: nothing,
  child: () => SILENT_LOGGER,
};

/** The one-argument logging function core services take: a message at info, or at error with what went wrong. */
export type LogLine = (msg: string, err?: unknown) => void;

export function logLineOf(logger: Logger): LogLine {
  return (msg, err) => (err === undefined ? logger.info(msg) : logger.error({ err }, msg));
}
