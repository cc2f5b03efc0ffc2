import { defineStore } from 'pinia';
import { ref } from 'vue';

/** View state of the desk that outlives its components (tab, side panel). */
export const useDeskStore = defineStore('desk', () => {
  const tab = ref<'queue' | 'mine' | 'search'>('queue');
  const customerPanel = ref(localStorage.getItem('kefu.customerPanel') !== 'off');

  function toggleCustomerPanel(): void {
    customerPanel.value = !customerPanel.value;
    localStorage.setItem('kefu.customerPanel', customerPanel.value ? 'on' : 'off');
  }

  return { tab, customerPanel, toggleCustomerPanel };
});
