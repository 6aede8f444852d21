// Decorates `chatSettings`: every setting validated once at start, plugin options over env.
import fastifyEnv from '@fastify/env'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { SettingsSchema, envName, rawSettings, type Settings } from '../lib/config/settings.js'
import type { ChatOptions } from '../lib/config/options.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatSettings: Settings
  }
}

async function settings (app: FastifyInstance, options: ChatOptions): Promise<void> {
  try {
    await app.register(fastifyEnv, {
      confKey: 'chatSettings',
      schema: structuredClone(SettingsSchema),
      data: rawSettings(options as Record<string, unknown>, process.env),
      env: false,
      dotenv: false
    })
  } catch (error) {
    throw new Error(`Invalid chat service setting: ${describeSettingErrors((error as Error).message)}`)
  }
  const { jwtSecret, jwtPublicKey, jwtJwksUrl, jwtInsecureSkipVerify, redisUrl, redisClusterNodes } = app.chatSettings
  if (redisUrl !== undefined && redisClusterNodes !== undefined) {
    throw new Error('Invalid chat service setting: REDIS_URL (option redisUrl) and REDIS_CLUSTER_NODES (option redisClusterNodes) exclude each other; set one')
  }
  if (jwtSecret === undefined && jwtPublicKey === undefined && jwtJwksUrl === undefined && !jwtInsecureSkipVerify) {
    throw new Error('Invalid chat service setting: JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL (option jwtSecret, jwtPublicKey or jwtJwksUrl) is required to verify tokens')
  }
}

/** "env/retryAttempts must be integer" -> "RETRY_ATTEMPTS (option retryAttempts) must be integer" */
function describeSettingErrors (message: string): string {
  return message.replace(/env\/(\w+)/g, (_, name: string) => `${envName(name)} (option ${name})`)
}

export default fp(settings, { name: 'chat-settings' })
