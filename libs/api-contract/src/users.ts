// /api/v1/users, /api/v1/robots, /api/v1/repositories/visibility (libs/auth). Names and scope
// patterns are checked against the repository-name grammar by the server after this shape check.
import { z } from 'zod';

export const RobotScopeSchema = z.object({
  /** A repository name, or a namespace as `name/*`. */
  repository: z.string(),
  actions: z.array(z.enum(['pull', 'push', 'delete', '*'])).min(1),
});

export const CreateUserRequestSchema = z.object({ name: z.string(), password: z.string(), admin: z.boolean().optional() });
/** A user changes their password; only admins set `disabled` and `admin`. */
export const UpdateUserRequestSchema = z.strictObject({
  password: z.string().optional(),
  disabled: z.boolean().optional(),
  admin: z.boolean().optional(),
});
export const CreateRobotRequestSchema = z.object({ name: z.string(), scopes: z.array(RobotScopeSchema).min(1) });
export const VisibilityRequestSchema = z.object({ repository: z.string(), public: z.boolean() });
export const VisibilitySchema = VisibilityRequestSchema;

/** An account as answers show it: never the password hash. */
export const UserSchema = z.object({
  name: z.string(),
  admin: z.boolean(),
  disabled: z.boolean(),
  robot: z.boolean(),
  robotScopes: z.array(RobotScopeSchema).optional(),
  owner: z.string().optional(),
  createdAt: z.string(),
});
export type User = z.infer<typeof UserSchema>;
export const UserListSchema = z.array(UserSchema);
export const RobotListSchema = z.object({ robots: z.array(UserSchema) });
/** A new robot, with its secret: shown this once, only its hash is kept. */
export const CreatedRobotSchema = UserSchema.extend({ secret: z.string() });
