/** An admin-API failure with its HTTP status and extra JSON fields (e.g. `errors` for invalid rules). */
export class MonitorHttpError extends Error {
  override readonly name = 'MonitorHttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const notFound = (what: string): MonitorHttpError => new MonitorHttpError(404, `${what} not found`);
export const conflict = (message: string): MonitorHttpError => new MonitorHttpError(409, message);
export const badRequest = (message: string, extra: Record<string, unknown> = {}): MonitorHttpError =>
  new MonitorHttpError(400, message, extra);
