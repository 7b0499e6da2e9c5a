// Injection tokens for the outside systems every service shares.
export const CONFIG = Symbol('StevedoreConfig');
export const REDIS = Symbol('Redis');
export const STORAGE = Symbol('StorageDriver');
