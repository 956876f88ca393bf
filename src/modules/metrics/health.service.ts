import { Injectable } from '@nestjs/common';

/** One component's readiness: ok, or the reason it cannot serve; `detail` is shown either way. */
export interface HealthCheckResult {
  readonly ok: boolean;
  readonly detail?: string;
}

export type HealthCheck = () => HealthCheckResult | Promise<HealthCheckResult>;

/**
 * Readiness contributions from the components a role runs (queue connection, sequencer state,
 * ...). /ready combines them with its own checks, so every role answers /ready truthfully without
 * the HTTP layer knowing which components are present.
 */
@Injectable()
export class HealthService {
  private readonly checks = new Map<string, HealthCheck>();

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  async report(): Promise<{ ok: boolean; checks: Record<string, HealthCheckResult> }> {
    const checks: Record<string, HealthCheckResult> = {};
    let ok = true;
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        let r: HealthCheckResult;
        try {
          r = await check();
        } catch (e) {
          r = { ok: false, detail: (e as Error).message };
        }
        checks[name] = r;
        if (!r.ok) ok = false;
      }),
    );
    return { ok, checks };
  }
}
