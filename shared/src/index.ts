export * from './errors';
export * from './limits';
