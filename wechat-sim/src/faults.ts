import type { FaultApi, FaultSpec } from './types';

interface ArmedFault extends FaultSpec {
  remaining: number;
}

/** Injected failures, consumed first-in first-out per API. */
export class FaultBox {
  private armed: ArmedFault[] = [];

  add(spec: FaultSpec): void {
    this.armed.push({ ...spec, remaining: spec.times ?? 1 });
  }

  /** The next fault for this API, counting one use of it; undefined when none is armed. */
  take(api: FaultApi): FaultSpec | undefined {
    const fault = this.armed.find((f) => f.api === api && f.remaining > 0);
    if (!fault) return undefined;
    fault.remaining -= 1;
    this.armed = this.armed.filter((f) => f.remaining > 0);
    return fault;
  }

  list(): Array<FaultSpec & { remaining: number }> {
    return this.armed.map((f) => ({ ...f }));
  }

  clear(): void {
    this.armed = [];
  }
}
