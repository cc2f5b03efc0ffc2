export * from './errors';
export * from './limits';
export * from './domain';
export * from './api';
export * from './events';
export * from './routing';
