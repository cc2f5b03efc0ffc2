import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';

const server = 'http://127.0.0.1:3000';

// The console is served by the Kefu server in production (web/dist); in development Vite proxies
// the API, the realtime socket and the WeChat push endpoints to a running server.
export default defineConfig({
  plugins: [vue()],
  define: {
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  resolve: {
    // The console imports only types from '@kefu/shared', plus its limits: this path keeps zod
    // and every schema out of the browser bundle (shared's index evaluates them all).
    alias: {
      '@kefu/shared/limits': fileURLToPath(new URL('../shared/src/limits.ts', import.meta.url)),
    },
  },
  server: {
    proxy: {
      // Host stays the dev server's, so it matches the page's Origin: Kefu refuses cookie
      // requests and WebSocket upgrades whose Origin is not its own (CSRF, docs/security.md).
      '/api': { target: server, changeOrigin: false, ws: true },
      '/wechat': { target: server, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
});
