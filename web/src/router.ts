import { createRouter, createWebHistory } from 'vue-router';
import { useSessionStore } from './stores/session';
import AppShell from './layouts/AppShell.vue';
import DeskView from './views/DeskView.vue';
import LoginView from './views/LoginView.vue';

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
    {
      path: '/',
      component: AppShell,
      children: [
        { path: '', redirect: { name: 'desk' } },
        { path: 'desk/:id?', name: 'desk', component: DeskView },
        {
          path: 'settings',
          name: 'settings',
          component: () => import('./views/SettingsView.vue'),
        },
        {
          path: 'admin',
          component: () => import('./admin/AdminLayout.vue'),
          meta: { admin: true },
          children: [
            { path: '', redirect: { name: 'admin-channels' } },
            {
              path: 'channels',
              name: 'admin-channels',
              component: () => import('./admin/ChannelsView.vue'),
            },
            {
              path: 'agents',
              name: 'admin-agents',
              component: () => import('./admin/AgentsView.vue'),
            },
            {
              path: 'quick-replies',
              name: 'admin-quick-replies',
              component: () => import('./admin/QuickRepliesView.vue'),
            },
            {
              path: 'rules',
              name: 'admin-rules',
              component: () => import('./admin/RulesView.vue'),
            },
            {
              path: 'audit',
              name: 'admin-audit',
              component: () => import('./admin/AuditView.vue'),
            },
            {
              path: 'platform',
              name: 'admin-platform',
              component: () => import('./admin/PlatformView.vue'),
            },
          ],
        },
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
});

router.beforeEach(async (to) => {
  const session = useSessionStore();
  if (to.meta['public']) return session.signedIn && to.name === 'login' ? { name: 'desk' } : true;
  if (!session.signedIn)
    return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} };
  if (to.matched.some((r) => r.meta['admin'])) {
    if (!session.agent) await session.loadMe().catch(() => undefined);
    if (!session.isAdmin) return { name: 'desk' };
  }
  return true;
});
