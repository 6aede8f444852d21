import type { ChatMessage } from './frames.js'
import { RecentMessages } from './recent-messages.js'

/**
 * What the client knows of one channel: the last message delivered (where a resume starts), the
 * recent ids (to drop repeats), and, while the channel's newest messages are being read after it
 * went live, the frames that must wait for them.
 */
export class ChannelFeed {
  readonly channel: string
  readonly delivered: RecentMessages<ChatMessage>
  lastId: string | undefined
  /** The channel had no message when first read: every message it has since is new to the application. */
  startedEmpty = false
  /** Messages that arrived while the newest ones were read; undefined when none are held. */
  held: ChatMessage[] | undefined
  /** The service confirmed the subscription on the current socket (and the newest messages are read). */
  live = false
  /** Whether the subscription asks for presence frames. */
  readonly withPresence: boolean
  /** Who is present, as the presence frames tell (with `withPresence`). */
  readonly present = new Set<string>()
  /** Who is typing, until when (ms since the epoch). */
  readonly typers = new Map<string, number>()

  constructor (channel: string, remember: number, options: { since?: string, presence?: boolean } = {}) {
    this.channel = channel
    this.withPresence = options.presence === true
    this.delivered = new RecentMessages(remember)
    this.lastId = options.since
  }

  /** The users typing at `now`, sorted; those whose notice is too old are forgotten. */
  typingAt (now: number): string[] {
    for (const [user, until] of this.typers) if (until <= now) this.typers.delete(user)
    return [...this.typers.keys()].sort()
  }

  /** Records a message unless it was delivered already; says whether it was new. */
  take (message: ChatMessage): boolean {
    if (this.delivered.has(message.id)) return false
    this.delivered.add(message)
    this.lastId = message.id
    return true
  }
}
