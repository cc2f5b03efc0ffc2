import { defineStore } from 'pinia';
import { ref } from 'vue';

/** View state of the desk that outlives its components (tab, side panel, queue filter). */
export const useDeskStore = defineStore('desk', () => {
  const tab = ref<'queue' | 'mine' | 'search'>('queue');
  const customerPanel = ref(localStorage.getItem('kefu.customerPanel') !== 'off');
  /**
   * Which waiting conversations the queue lists: the mini programs I serve (the default, as in
   * WeChat's own tool once a mini program is picked), all I am bound to, or one of them.
   */
  const queueFilter = ref<string>(localStorage.getItem('kefu.queueFilter') ?? 'serving');

  function setQueueFilter(next: string): void {
    queueFilter.value = next;
    localStorage.setItem('kefu.queueFilter', next);
  }

  function toggleCustomerPanel(): void {
    customerPanel.value = !customerPanel.value;
    localStorage.setItem('kefu.customerPanel', customerPanel.value ? 'on' : 'off');
  }

  return { tab, customerPanel, toggleCustomerPanel, queueFilter, setQueueFilter };
});
