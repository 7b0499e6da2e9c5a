export * from './principal';
export * from './token-service';
export * from './login-limiter';
export * from './authenticator';
export * from './token.controller';
export * from './users.controller';
export * from './auth.module';
