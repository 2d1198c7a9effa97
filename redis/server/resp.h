/*
 * redis/server/resp.h - RESP: the request parser and the reply encoder.
 *
 * Parser.  rds_parse() reads one request from the unread bytes of a
 * connection's input buffer: a multibulk request (`*2\r\n$3\r\nGET\r\n...`)
 * or an inline one (`PING\r\n`, `set "a b" 'c'\r\n`).  It is incremental:
 * when the bytes end inside a request it returns RDS_PARSE_MORE and keeps
 * in the parser how far it got (offsets, never pointers, because the
 * buffer may move when it grows), so the next call with more bytes resumes
 * there and never rescans what it has parsed.  The caller must pass the
 * same start of data again (the first unconsumed byte), with more bytes
 * after it.  When a request is complete it returns RDS_PARSE_OK and the
 * arguments as pointers into the data (valid until the caller moves or
 * advances the buffer), and the number of bytes the request took; the
 * caller executes it, then advances its buffer by that much.  (An inline
 * request's arguments are unquoted into memory of the parser's instead:
 * valid until the next rds_parse call.)
 *
 * Limits (Redis's, set per parser from the server's config): a bulk
 * length above max_bulk_len (proto-max-bulk-len, 512 MB), a multibulk
 * count above RDS_MAX_MULTIBULK or below -1... (see Redis's
 * processMultibulkBuffer), an inline request or a count line longer than
 * RDS_INLINE_MAX (64 KB) without a newline.  Before authentication
 * (requirepass set, AUTH not yet done) a multibulk count above 10 and a
 * bulk above 16384 are refused too, as Redis does.  Every violation is a
 * protocol error: rds_parse() returns RDS_PARSE_ERROR and p->error is the
 * exact Redis wording without the leading '-' and trailing CRLF ("ERR
 * Protocol error: invalid bulk length"); the caller replies with it and
 * closes the connection.  An empty line and `*0`/`*-1`-style counts are
 * skipped: RDS_PARSE_OK with argc 0 (the caller just advances).
 *
 * Encoder.  struct rds_out is a connection's pending output: a byte buffer,
 * the protocol the client speaks (2 or 3) and a sticky error.  The
 * rds_reply_* functions append one reply (or one aggregate header) in
 * that protocol; on allocation failure (or the buffer's limit) they set
 * out->err (-ENOMEM/-ENOBUFS), append nothing more, and the caller closes
 * the connection after the batch.  None of them allocate when the buffer
 * has room (the hot path: a GET/SET round trip reuses the buffer).
 */
#ifndef RDS_RESP_H
#define RDS_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libtask/buf.h>

/* ---- Parser ---------------------------------------------------------------- */

#define RDS_INLINE_MAX (64 * 1024) /* Redis's PROTO_INLINE_MAX_SIZE */
#define RDS_MAX_MULTIBULK                                                      \
        (1024 * 1024) /* larger counts: invalid multibulk length */
#define RDS_PROTO_MAX_BULK_LEN_DEFAULT (512LL * 1024 * 1024)
/* A bulk at least this big gets its whole length reserved at once
 * (p->want), as Redis's PROTO_MBULK_BIG_ARG. */
#define RDS_BIG_ARG (32 * 1024)

/* One argument: binary-safe bytes. */
struct rds_arg {
        const unsigned char *p;
        size_t len;
};

enum rds_parse_rc {
        RDS_PARSE_ERROR = -1, /* protocol error: p->error says which */
        RDS_PARSE_MORE = 0,   /* incomplete: call again with more bytes */
        RDS_PARSE_OK = 1,     /* one request (argc may be 0: skip it) */
};

struct rds_parser {
        /* Settings: the caller sets these (rds_parser_init sets defaults). */
        long long max_bulk_len; /* proto-max-bulk-len */
        bool unauthenticated;   /* apply Redis's pre-AUTH limits */

        /* Results of the last RDS_PARSE_OK: argv[0..argc) point into the
         * data passed in; consumed is the request's size in bytes. */
        size_t argc;
        struct rds_arg *argv;
        size_t consumed;
        /* After RDS_PARSE_MORE: the total request size known so far that
         * the buffer should be able to hold (0: unknown).  Lets the reader
         * reserve a big bulk at once instead of growing in steps. */
        size_t want;
        /* After RDS_PARSE_ERROR: the error reply text (static string). */
        const char *error;

        /* Private state (resume point of a partial request). */
        int state;
        size_t pos;         /* offset of the next byte to look at */
        long long mb_left;  /* multibulk arguments still to read */
        long long bulk_len; /* length of the bulk being read, or -1 */
        size_t argcap;      /* capacity of argv / offs */
        size_t *offs;       /* argument offsets while the request is partial */
        size_t nl_scan;     /* where the newline search resumes */
        /* The text of a formatted error (p->error points here then). */
        char errbuf[80];
        /* Inline requests: the unquoted arguments (argv points here for
         * them; valid until the next rds_parse call). */
        unsigned char *ibuf;
        size_t ibuf_cap;
};

/* Initialise @p with Redis's default limits.  Returns 0. */
int rds_parser_init(struct rds_parser *p);
/* Free @p's argument arrays.  @p may be re-initialised after. */
void rds_parser_free(struct rds_parser *p);
/* Forget a partial request (the connection's buffer was emptied). */
void rds_parser_reset(struct rds_parser *p);
/*
 * rds_parse - parse one request from @data[0..@len).  See the head
 * comment.  Returns RDS_PARSE_OK, RDS_PARSE_MORE, RDS_PARSE_ERROR, or
 * -ENOMEM (the argument array could not grow; the caller closes).
 */
int rds_parse(struct rds_parser *p, const unsigned char *data, size_t len);

/* ---- Encoder --------------------------------------------------------------- */

struct rds_out {
        struct task_buf buf;
        int proto; /* 2 or 3 */
        int err;   /* 0, -ENOMEM or -ENOBUFS: sticky until reset */
};

void rds_out_init(struct rds_out *o);
void rds_out_free(struct rds_out *o);

/* Simple string: "+OK\r\n".  @s must not contain CR or LF. */
void rds_reply_simple(struct rds_out *o, const char *s);
void rds_reply_ok(struct rds_out *o);
/* Error: "-" @msg "\r\n".  @msg starts with the error code ("ERR ...",
 * "WRONGTYPE ..."); CR and LF in it are replaced by spaces. */
void rds_reply_error(struct rds_out *o, const char *msg);
void rds_reply_errorf(struct rds_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "-ERR wrong number of arguments for '<name>' command" (name as given,
 * lowercased as Redis does). */
void rds_reply_arity_error(struct rds_out *o, const struct rds_arg *name);
void rds_reply_int(struct rds_out *o, long long v);
void rds_reply_bulk(struct rds_out *o, const void *p, size_t len);
void rds_reply_bulk_cstr(struct rds_out *o, const char *s);
void rds_reply_bulk_ll(struct rds_out *o, long long v);
/* A double: RESP3 ",<v>\r\n", RESP2 a bulk string; formatted as Redis
 * does (%.17g, "inf"/"-inf"). */
void rds_reply_double(struct rds_out *o, double v);
/* The null bulk: RESP2 "$-1\r\n", RESP3 "_\r\n". */
void rds_reply_null(struct rds_out *o);
/* The null array: RESP2 "*-1\r\n", RESP3 "_\r\n". */
void rds_reply_null_array(struct rds_out *o);
/* Aggregate headers; the caller appends the elements after. */
void rds_reply_array_len(struct rds_out *o, size_t n);
/* A map of @n pairs: RESP3 "%n", RESP2 an array of 2n. */
void rds_reply_map_len(struct rds_out *o, size_t n);
/* A set: RESP3 "~n", RESP2 "*n". */
void rds_reply_set_len(struct rds_out *o, size_t n);
/* A push: RESP3 ">n", RESP2 "*n" (pub/sub messages). */
void rds_reply_push_len(struct rds_out *o, size_t n);
/* A boolean: RESP3 "#t"/"#f", RESP2 ":1"/":0". */
void rds_reply_bool(struct rds_out *o, bool v);
/* A verbatim string (INFO, CLIENT LIST): RESP3 "=len\r\ntxt:...", RESP2 a
 * bulk string.  @fmt3 is the 3-letter format ("txt"). */
void rds_reply_verbatim(struct rds_out *o, const char *fmt3, const void *p,
                        size_t len);
/* Raw bytes, already encoded (e.g. a pre-built shared reply). */
void rds_reply_raw(struct rds_out *o, const void *p, size_t len);

/* Common error texts (no leading '-'), Redis's exact wording. */
#define RDS_ERR_SYNTAX "ERR syntax error"
#define RDS_ERR_NOT_INT "ERR value is not an integer or out of range"
#define RDS_ERR_NOT_FLOAT "ERR value is not a valid float"
#define RDS_ERR_WRONGTYPE                                                      \
        "WRONGTYPE Operation against a key holding the wrong kind of value"
#define RDS_ERR_NO_KEY "ERR no such key"
#define RDS_ERR_OVERFLOW "ERR increment or decrement would overflow"
#define RDS_ERR_DB_INDEX "ERR DB index is out of range"
#define RDS_ERR_NOAUTH "NOAUTH Authentication required."
#define RDS_ERR_STRING_TOO_LONG                                                \
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

#endif /* RDS_RESP_H */
