/*
 * test_vregion_property.c — seeded runs of random operations on the
 * virtual regions (lib/os/vregion.c), 300,000 in all, each checked against
 * a reference model that shares none of its structure:
 *   - the model is a sorted array of segments tiling the space, each with
 *     a state, attributes, cookie and the id of the operation that made
 *     it; a region is a segment, because neighbours with the same id
 *     (free space has id 0) are merged after every change, and pieces of
 *     one split are never neighbours;
 *   - operations: reservations anywhere (sizes from a page to a TiB,
 *     alignments 4 KiB to 1 GiB) and at fixed addresses, mark mapped, mark
 *     reserved and free, on ranges inside a region, running past one, or
 *     anywhere (misaligned, outside, non-canonical now and then), with
 *     valid and invalid attributes.
 * The model predicts every outcome — the error, or where a reservation
 * anywhere goes, by the placement rule vregion.h states — and after every
 * step vregion_check() holds and every region, the stats, and a random
 * lookup agree with it, so a refused operation is seen to change nothing.
 *
 * Two spaces: a small one (512 pages) that runs out often, and the whole
 * user range, where a few huge reservations lie sparse among small ones.
 */
#include "vregion_fake.h"

#define NSEG_MAX 4096
#define SEG_SOFT_MAX 600        /* above this many segments, free more */

struct mseg {
    uint64_t base, size;
    enum vregion_state state;
    uint32_t attrs;
    uint64_t cookie;
    uint64_t id;                /* 0 for free space */
};

static struct vregion_space vs;
static struct mseg m[NSEG_MAX];
static size_t mn;
static uint64_t next_id;
static uint64_t space_lo, space_hi;
static uint64_t rng;

/* ---- Random numbers (xorshift64*). ---- */

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

static bool chance(unsigned percent)
{
    return rnd_below(100) < percent;
}

/* ---- The model. ---- */

static void model_init(uint64_t lo, uint64_t hi)
{
    space_lo = lo;
    space_hi = hi;
    mn = 1;
    m[0] = (struct mseg){ .base = lo, .size = hi - lo, .state = VREGION_FREE };
    next_id = 1;
}

static size_t m_index(uint64_t addr)
{
    for (size_t i = 0; i < mn; i++)
        if (addr - m[i].base < m[i].size)
            return i;
    cr_assert_fail("model has no segment at %#lx", addr);
    return 0;
}

/* Make addr a segment boundary. */
static void m_split(uint64_t addr)
{
    if (addr == space_hi)
        return;
    size_t i = m_index(addr);
    if (m[i].base == addr)
        return;
    cr_assert_lt(mn, NSEG_MAX);
    for (size_t j = mn; j > i + 1; j--)
        m[j] = m[j - 1];
    mn++;
    m[i + 1] = m[i];
    m[i + 1].base = addr;
    m[i + 1].size = m[i].base + m[i].size - addr;
    m[i].size = addr - m[i].base;
}

/* Merge neighbours of the same id. */
static void m_normalise(void)
{
    size_t out = 0;
    for (size_t i = 1; i < mn; i++) {
        if (m[i].id == m[out].id)
            m[out].size += m[i].size;
        else
            m[++out] = m[i];
    }
    mn = out + 1;
}

static void m_set(uint64_t base, uint64_t size, enum vregion_state to, uint32_t attrs,
                  uint64_t cookie)
{
    m_split(base);
    m_split(base + size);
    uint64_t id = to == VREGION_FREE ? 0 : next_id++;
    for (size_t i = m_index(base); i < mn && m[i].base < base + size; i++) {
        m[i].state = to;
        m[i].attrs = to == VREGION_FREE ? 0 : attrs;
        m[i].cookie = to == VREGION_MAPPED ? cookie : 0;
        m[i].id = id;
    }
    m_normalise();
}

/* The range errors, in the order vregion.h gives them. */
static enum err_code m_range_err(uint64_t base, uint64_t size)
{
    if (size == 0 || size % PAGE != 0)
        return VREGION_ERR_BAD_SIZE;
    if (base % PAGE != 0)
        return VREGION_ERR_MISALIGNED;
    if (base >= VREGION_VA_LIMIT || size > VREGION_VA_LIMIT - base)
        return VREGION_ERR_NOT_CANONICAL;
    if (base < space_lo || base + size > space_hi)
        return VREGION_ERR_OUTSIDE;
    return SYS_ERR_OK;
}

static bool m_attrs_ok(uint32_t attrs, enum vregion_state state)
{
    if (attrs > VREGION_ATTR_MASK)
        return false;
    if ((attrs & VREGION_ATTR_WRITE) && !(attrs & VREGION_ATTR_READ))
        return false;
    if (attrs & VREGION_ATTR_DEVICE)
        return state == VREGION_MAPPED && !(attrs & VREGION_ATTR_EXEC);
    return true;
}

/*
 * What a state change should give: allowed is the set of states (bit per
 * state) it may start from, wrong and crosses the refusals of vregion.h's
 * table.
 */
static enum err_code m_change_err(uint64_t base, uint64_t size, unsigned allowed,
                                  enum vregion_state to, uint32_t attrs, enum err_code wrong,
                                  enum err_code crosses)
{
    enum err_code e = m_range_err(base, size);
    if (e != SYS_ERR_OK)
        return e;
    if (to != VREGION_FREE && !m_attrs_ok(attrs, to))
        return VREGION_ERR_BAD_ATTRS;
    const struct mseg *s = &m[m_index(base)];
    if (!(allowed & (1u << s->state)))
        return wrong;
    if (base + size > s->base + s->size)
        return crosses;
    return SYS_ERR_OK;
}

/* Where vregion_reserve_any should put the request, by vregion.h's rule. */
static bool m_fit(uint64_t size, uint64_t align, uint64_t *at)
{
    int probes = 0;
    for (size_t i = 0; i < mn; i++) {
        const struct mseg *s = &m[i];
        if (s->state != VREGION_FREE || s->size < size)
            continue;
        uint64_t a = (s->base + align - 1) & ~(align - 1);
        bool fits = a - s->base <= s->size && s->size - (a - s->base) >= size;
        if (probes < VREGION_FIT_PROBES) {
            probes++;
            if (fits) {
                *at = a;
                return true;
            }
        } else if (s->size >= size + align - PAGE) {
            cr_assert(fits);
            *at = a;
            return true;
        }
    }
    return false;
}

/* ---- Comparing the space with the model. ---- */

struct cmp {
    size_t i;
};

static void cmp_region(void *arg, const struct vregion_info *info)
{
    struct cmp *c = arg;
    cr_assert_lt(c->i, mn, "more regions than the model has");
    const struct mseg *s = &m[c->i++];
    cr_assert(info->base == s->base && info->size == s->size && info->state == s->state &&
                  info->attrs == s->attrs && info->cookie == s->cookie,
              "region [%#lx, +%#lx) state %d attrs %#x cookie %lu; model [%#lx, +%#lx) state %d "
              "attrs %#x cookie %lu",
              info->base, info->size, info->state, info->attrs, info->cookie, s->base, s->size,
              s->state, s->attrs, s->cookie);
}

static void compare_with_model(void)
{
    cr_assert(vregion_check(&vs), "vregion_check failed");
    struct cmp c = { 0 };
    vregion_walk(&vs, 0, VREGION_VA_LIMIT, cmp_region, &c);
    cr_assert_eq(c.i, mn, "fewer regions than the model has");

    struct vregion_stats st;
    vregion_stats(&vs, &st);
    uint64_t bytes[3] = { 0, 0, 0 }, largest = 0;
    for (size_t i = 0; i < mn; i++) {
        bytes[m[i].state] += m[i].size;
        if (m[i].state == VREGION_FREE && m[i].size > largest)
            largest = m[i].size;
    }
    cr_assert(st.free == bytes[VREGION_FREE] && st.reserved == bytes[VREGION_RESERVED] &&
              st.mapped == bytes[VREGION_MAPPED] && st.largest_free == largest &&
              st.regions == mn && st.total == space_hi - space_lo);

    uint64_t addr = space_lo + rnd_below(space_hi - space_lo);
    struct vregion_info info;
    cr_assert(err_is_ok(vregion_lookup(&vs, addr, &info)));
    const struct mseg *s = &m[m_index(addr)];
    cr_assert(info.base == s->base && info.size == s->size && info.state == s->state);
}

/* ---- Random arguments. ---- */

/* Attributes, now and then invalid; DEVICE only for mappings, as
 * elsewhere it is refused, which the bad ones test already. */
static uint32_t rnd_attrs(bool mapping)
{
    static const uint32_t good[] = {
        0,
        VREGION_ATTR_READ,
        VREGION_ATTR_RW,
        VREGION_ATTR_READ | VREGION_ATTR_EXEC,
        VREGION_ATTR_RW | VREGION_ATTR_DEVICE,
    };
    static const uint32_t bad[] = {
        VREGION_ATTR_WRITE,
        VREGION_ATTR_READ | VREGION_ATTR_EXEC | VREGION_ATTR_DEVICE,
        0x40,
    };
    if (chance(3))
        return bad[rnd_below(sizeof bad / sizeof bad[0])];
    return good[rnd_below(sizeof good / sizeof good[0] - (mapping ? 0 : 1))];
}

/* A size in pages: mostly a few, sometimes MiBs, rarely up to `huge`. */
static uint64_t rnd_size(uint64_t huge)
{
    unsigned r = (unsigned)rnd_below(100);
    if (r < 70)
        return (1 + rnd_below(8)) * PAGE;
    if (r < 95)
        return (1 + rnd_below(5 * MiB / PAGE)) * PAGE;
    return (1 + rnd_below(huge / PAGE)) * PAGE;
}

/* A page-aligned range: inside a random segment (most of the time), from
 * inside one past its end, anywhere in the space, or plain bad. */
static void rnd_range(uint64_t huge, uint64_t *base, uint64_t *size)
{
    const struct mseg *s = &m[rnd_below(mn)];
    unsigned r = (unsigned)rnd_below(100);
    uint64_t pages = s->size / PAGE;
    if (r < 70) {
        /* Half of them at an edge of the segment, where splits are fewest. */
        uint64_t n = 1 + rnd_below(pages < 64 ? pages : (chance(50) ? 64 : pages));
        uint64_t off = chance(50) ? (chance(50) ? 0 : pages - n) : rnd_below(pages - n + 1);
        *base = s->base + off * PAGE;
        *size = n * PAGE;
    } else if (r < 85) {
        *base = s->base + rnd_below(pages) * PAGE;
        *size = s->base + s->size - *base + (1 + rnd_below(4)) * PAGE;
    } else if (r < 97) {
        *base = space_lo + rnd_below((space_hi - space_lo) / PAGE) * PAGE;
        *size = rnd_size(huge);
    } else {
        static const uint64_t bad_base[] = { 1, 0, VREGION_VA_LIMIT, 0xffff800000000000ull };
        *base = bad_base[rnd_below(4)] + (chance(50) ? 0 : s->base);
        *size = chance(30) ? 0 : rnd_size(huge) + (chance(50) ? 1 : 0);
    }
}

static uint64_t rnd_align(void)
{
    unsigned shift = chance(70) ? 12 + (unsigned)rnd_below(10) : 12 + (unsigned)rnd_below(19);
    if (chance(2))
        return chance(50) ? 3 * PAGE : (uint64_t)1 << 31;
    return (uint64_t)1 << shift;
}

/* ---- One step. ---- */

static void step_reserve_any(uint64_t huge)
{
    uint64_t size = rnd_size(huge), align = rnd_align(), at = 0, base = 0;
    uint32_t attrs = rnd_attrs(false);
    enum err_code want = SYS_ERR_OK;
    bool align_ok = (align & (align - 1)) == 0 && align >= PAGE && align <= VREGION_MAX_ALIGN;
    if (!align_ok)
        want = VREGION_ERR_BAD_ALIGNMENT;
    else if (!m_attrs_ok(attrs, VREGION_RESERVED))
        want = VREGION_ERR_BAD_ATTRS;
    else if (!m_fit(size, align, &at))
        want = VREGION_ERR_NO_SPACE;

    errval_t err = vregion_reserve_any(&vs, size, align, attrs, &base);
    cr_assert_eq(err_no(err), want, "reserve_any(%#lx, %#lx): %s, model %s", size, align,
                 err_getcode(err_no(err)), err_getcode(want));
    if (want == SYS_ERR_OK) {
        cr_assert_eq(base, at, "reserve_any(%#lx, %#lx) at %#lx, model %#lx", size, align, base, at);
        m_set(base, size, VREGION_RESERVED, attrs, 0);
    }
}

/* Which change a step makes; a table like vregion.h's. */
enum step_kind { STEP_RESERVE_AT, STEP_MAP, STEP_UNMAP, STEP_FREE };

static void step_change(enum step_kind kind, uint64_t huge)
{
    static const struct {
        unsigned allowed;
        enum vregion_state to;
        enum err_code wrong, crosses;
    } rule[] = {
        [STEP_RESERVE_AT] = { 1u << VREGION_FREE, VREGION_RESERVED, VREGION_ERR_OVERLAP,
                              VREGION_ERR_OVERLAP },
        [STEP_MAP] = { (1u << VREGION_FREE) | (1u << VREGION_RESERVED), VREGION_MAPPED,
                       VREGION_ERR_ALREADY_MAPPED, VREGION_ERR_CROSSES },
        [STEP_UNMAP] = { 1u << VREGION_MAPPED, VREGION_RESERVED, VREGION_ERR_NOT_MAPPED,
                         VREGION_ERR_CROSSES },
        [STEP_FREE] = { (1u << VREGION_RESERVED) | (1u << VREGION_MAPPED), VREGION_FREE,
                        VREGION_ERR_NOT_ALLOCATED, VREGION_ERR_CROSSES },
    };
    uint64_t base, size, cookie = 1 + rnd_below(1000);
    rnd_range(huge, &base, &size);
    uint32_t attrs = rnd_attrs(kind == STEP_MAP);
    enum err_code want = m_change_err(base, size, rule[kind].allowed, rule[kind].to, attrs,
                                      rule[kind].wrong, rule[kind].crosses);
    errval_t err;
    switch (kind) {
    case STEP_RESERVE_AT:
        err = vregion_reserve_at(&vs, base, size, attrs);
        break;
    case STEP_MAP:
        err = vregion_mark_mapped(&vs, base, size, attrs, cookie);
        break;
    case STEP_UNMAP:
        err = vregion_mark_reserved(&vs, base, size, attrs);
        break;
    default:
        err = vregion_free(&vs, base, size);
        break;
    }
    cr_assert_eq(err_no(err), want, "change %d [%#lx, +%#lx) attrs %#x: %s, model %s", kind, base,
                 size, attrs, err_getcode(err_no(err)), err_getcode(want));
    if (want == SYS_ERR_OK)
        m_set(base, size, rule[kind].to, attrs, cookie);
}

/* Free one whole region, so that merges keep the number of regions down. */
static void step_free_whole(void)
{
    const struct mseg *s = &m[rnd_below(mn)];
    uint64_t base = s->base, size = s->size;
    enum err_code want = s->state == VREGION_FREE ? VREGION_ERR_NOT_ALLOCATED : SYS_ERR_OK;
    errval_t err = vregion_free(&vs, base, size);
    cr_assert_eq(err_no(err), want, "free [%#lx, +%#lx): %s, model %s", base, size,
                 err_getcode(err_no(err)), err_getcode(want));
    if (want == SYS_ERR_OK)
        m_set(base, size, VREGION_FREE, 0, 0);
}

static void run(uint64_t lo, uint64_t hi, uint64_t huge, unsigned steps, uint64_t seed)
{
    vfake_space_init(&vs, lo, hi, true);
    model_init(lo, hi);
    rng = seed;
    for (unsigned i = 0; i < steps; i++) {
        unsigned r = (unsigned)rnd_below(100);
        if (mn > SEG_SOFT_MAX && r < 50)
            step_free_whole();
        else if (r < 22)
            step_reserve_any(huge);
        else if (r < 37)
            step_change(STEP_RESERVE_AT, huge);
        else if (r < 57)
            step_change(STEP_MAP, huge);
        else if (r < 72)
            step_change(STEP_UNMAP, huge);
        else
            step_change(STEP_FREE, huge);
        compare_with_model();
    }
}

Test(vregion_property, a_small_space_agrees_with_the_model_through_150000_operations)
{
    run(1 * MiB, 1 * MiB + 512 * PAGE, 64 * PAGE, 150000, 0x9e3779b97f4a7c15ull);
}

Test(vregion_property, the_whole_user_space_agrees_with_the_model_through_150000_operations)
{
    run(64 * KiB, VREGION_VA_LIMIT, 1 * TiB, 150000, 0x243f6a8885a308d3ull);
}
