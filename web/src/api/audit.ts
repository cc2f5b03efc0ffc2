import type { AuditAction, AuditPage } from '@kefu/shared';
import { request } from './http';

// A type, not an interface: it must fit the request's query record.
export type AuditQuery = {
  actor?: string | undefined;
  action?: AuditAction | undefined;
  from?: number | undefined;
  to?: number | undefined;
  q?: string | undefined;
  before?: string | undefined;
  limit?: number;
};

export interface UsageRulesState {
  version: string;
  ackedVersion: string | null;
  ackedAt: number | null;
}

/** The audit log and the usage-rules acknowledgement (server/src/modules/audit). */
export const auditApi = {
  list: (query: AuditQuery) => request<AuditPage>('GET', '/api/admin/audit', { query }),
  rulesState: () => request<UsageRulesState>('GET', '/api/me/usage-rules'),
  ackRules: (version: string) =>
    request<UsageRulesState>('POST', '/api/me/usage-rules/ack', { body: { version } }),
};
