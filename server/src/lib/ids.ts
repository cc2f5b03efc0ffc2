import { randomUUID } from 'node:crypto';

/** New primary key (UUID v4). */
export function newId(): string {
  return randomUUID();
}
