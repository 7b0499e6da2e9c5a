export * from './net';
export * from './redis-server';
export * from './ceph-rgw';
export * from './s3-server';
export * from './reference-registry';
export * from './stevedore-harness';
export * from './registry-client';
export * from './oci-layout';
