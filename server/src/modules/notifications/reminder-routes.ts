import { reminderTestBody, wecomRobotBody, type ReminderTestResult } from '@kefu/shared';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context';
import { route } from '../../http/route';
import { deleteRobot, listRoutes, loadRobot, recordOutcome, saveRobot } from './reminder-store';
import { robotText } from './reminder-dispatch';
import { sendWebPush, type PushPayload } from './web-push';
import { parseWebhook, sendRobotText } from './wecom-robot';

const TEST: PushPayload = {
  title: '测试提醒',
  body: '客服台的提醒能送到这里。',
  conversationId: '',
};

/** The agent's own reminder routes: show them, set or remove the WeCom robot, send a test. */
export function registerReminderRoutes(app: FastifyInstance, ctx: AppContext): void {
  route(app, ctx, {
    method: 'GET',
    url: '/api/me/reminders',
    summary: 'My reminder routes (Web Push, WeCom robot) and their last outcome',
    tags: ['notifications'],
    access: 'agent',
    handler: ({ caller }) => listRoutes(ctx, caller.workspaceId, caller.agentId),
  });
  route(app, ctx, {
    method: 'PUT',
    url: '/api/me/reminders/wecom-robot',
    summary: 'Set my WeCom group robot (webhook URL or key) and whom it @s',
    tags: ['notifications'],
    access: 'agent',
    body: wecomRobotBody,
    handler: async ({ caller, body }) => {
      // Checked before anything is stored: a refused webhook changes nothing.
      const key = parseWebhook(body.webhook, ctx.config.wecomRobotBase);
      await saveRobot(ctx, caller.workspaceId, caller.agentId, {
        key,
        mention: body.mention ?? '',
      });
      return listRoutes(ctx, caller.workspaceId, caller.agentId);
    },
  });
  route(app, ctx, {
    method: 'DELETE',
    url: '/api/me/reminders/wecom-robot',
    summary: 'Remove my WeCom group robot',
    tags: ['notifications'],
    access: 'agent',
    handler: async ({ caller }) => {
      await deleteRobot(ctx, caller.agentId);
      return listRoutes(ctx, caller.workspaceId, caller.agentId);
    },
  });
  route(app, ctx, {
    method: 'POST',
    url: '/api/me/reminders/test',
    summary: 'Send myself a test reminder by one route; answers whether it was accepted',
    tags: ['notifications'],
    access: 'agent',
    body: reminderTestBody,
    handler: async ({ caller, body }): Promise<ReminderTestResult> => {
      let outcome: ReminderTestResult;
      if (body.route === 'wecom_robot') {
        const robot = await loadRobot(ctx, caller.agentId);
        if (!robot) return { ok: false, detail: 'no WeCom robot is set' };
        outcome = await sendRobotText(ctx, robot, robotText(undefined, TEST));
      } else {
        outcome = await sendWebPush(ctx, caller.agentId, TEST);
      }
      await recordOutcome(ctx, caller.workspaceId, caller.agentId, body.route, outcome);
      return outcome;
    },
  });
}
