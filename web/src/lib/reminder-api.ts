import type {
  MyReminderRoutes,
  ReminderRoute,
  ReminderTestResult,
  wecomRobotBody,
} from '@kefu/shared';
import type { z } from 'zod';
import { request } from '../api/http';

export type WecomRobotInput = z.input<typeof wecomRobotBody>;

/** The agent's reminder routes (Web Push, WeCom group robot): read, set, remove, test. */
export const reminderApi = {
  routes: () => request<MyReminderRoutes>('GET', '/api/me/reminders'),
  saveRobot: (body: WecomRobotInput) =>
    request<MyReminderRoutes>('PUT', '/api/me/reminders/wecom-robot', { body }),
  removeRobot: () => request<MyReminderRoutes>('DELETE', '/api/me/reminders/wecom-robot'),
  test: (route: ReminderRoute) =>
    request<ReminderTestResult>('POST', '/api/me/reminders/test', { body: { route } }),
};
