export * from './der';
export * from './encode';
