import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import { currentLocale, setLocale, type Locale } from '../i18n';

/** Preferences kept in this browser only: language and sound. */
export const usePrefsStore = defineStore('prefs', () => {
  const locale = ref<Locale>(currentLocale());
  const sound = ref(localStorage.getItem('kefu.sound') !== 'off');

  watch(locale, (value) => setLocale(value));
  watch(sound, (value) => localStorage.setItem('kefu.sound', value ? 'on' : 'off'));

  return { locale, sound };
});
