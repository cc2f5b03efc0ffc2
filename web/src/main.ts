import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { i18n } from './i18n';
import { registerServiceWorker } from './lib/push';
import { router } from './router';
import './styles/element';
import './styles/base.css';
import './styles/list-item.css';

const app = createApp(App);
app.use(createPinia());
app.use(router);
app.use(i18n);
app.mount('#app');
registerServiceWorker();
