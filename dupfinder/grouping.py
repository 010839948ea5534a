"""Grouping pictures into duplicate groups.

Exact copies (same content hash) form clusters; one representative per cluster enters an HNSW
index (cosine similarity on unit vectors), and every representative's nearest neighbours above a
floor similarity are kept as a graph. Grouping at a threshold then only filters that graph, so a
threshold slider regroups in milliseconds.

Groups do not chain pictures through intermediates: the best copies become references first, and
every other picture joins the reference it is most similar to (or a better one it matches nearly as
well), only if it matches that reference directly, and a link much weaker than both pictures' best
matches (two different photos that each have real copies) is not followed. One hop is allowed: a
picture that matches no better reference but matches, at the threshold, a copy that matched its own
reference at the threshold joins that copy's group and says so (`Member.group_match`), as a copy
turned 10° that the model scores above the threshold only against a centre crop framed like it.

With an `AlignmentRule` (from the model card, `align` having scored the pairs just below the
threshold by their aligned shared part), a pair whose aligned parts score high enough links with
that score. Such a link leads a picture into a group through another copy (a twin, below, or the
one hop) only when the picture lies inside the copy, not the copy inside the picture: a crop that
leaves out what a second version of a picture changed lies inside both versions, and says nothing
about whether the versions are one picture, while a part of a copy is a part of the picture.

With a `HashConfirm` rule (from the model card), a pair a little below the threshold still links
when the two pictures' perceptual hashes agree almost exactly: recoloured copies that the
embedding scores low keep pHash's layout bits, while look-alike drawings rarely do. Given the
pHashes of each picture's mirror image (and, when turned copies are looked for, of its turns:
`dupfinder.phash.hash_views`), the rule also accepts a pair whose hashes agree once one picture is
mirrored or turned, the colour signature turned with it.

Some pictures bring second looks: a screenshot with a picture pasted in (`dupfinder.framed`) the
picture alone, a portrait picture itself turned a quarter each way (`dupfinder.views`, compared
with landscape pictures only), and, when cropped copies are looked for, a picture's regions
(compared with whole pictures of fewer pixels only). Groups are first made from whole pictures;
then a picture left in no group joins the group whose reference matches it directly through a
look, above the threshold: one of the picture's own looks against the reference's whole, or one of
the reference's turns or regions against the picture's whole. It joins as a member, never as a
reference, so the photo stays the copy to keep and no group is split.

The reference is the copy with the most pixels, which is not always the one a copy matches best: a
copy padded with white that cannot be told from a page's own white background has more pixels than
the original but frames it differently. So a picture may also match one of the reference's twins
instead, a member at least `TWIN_SIMILARITY` like the reference (the same picture, saved otherwise):
by its whole when groups are made (a copy that matches a twin and no reference joins the twin's
group rather than starting a second group of the same picture), and, for a picture left in no group,
also by the twin's regions. Its similarity is then the twin's.

A picture whose copies all score close to the threshold may still end up in two groups: a copy that
matches most of the picture's copies but not the one chosen as reference starts a group of its own,
and copies like it join that one. Two such groups merge when a good share of the pairs across them
match at the threshold (`MERGE_SHARE`); two look-alike pictures' groups rarely share more than a
stray link, so they stay apart. The group with the worse reference moves: whole when its reference
matches one of the copies it joins, else only its members that do, the rest staying with their
reference, so no picture comes in by a longer chain. A member that moved and does not match the new
reference itself shows its best match among the copies it joined (`Member.group_match`).

The best copy is the one with the most picture, and a copy stretched wider has more pixels but no
more picture: a picture whose shape differs from the one most of its matches share is ranked by the
pixels it would keep at that shape (`in_common_shape`), and loses a tie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np

from dupfinder.chroma import colours_agree, is_colourless, signature_view
from dupfinder.phash import VIEWS, distance
from dupfinder.report import Group, ImageRecord, Member
from dupfinder.views import is_landscape, may_be_cropped_from

DEFAULT_NEIGHBOURS = 32
# Nearest whole pictures looked up for each second look (a screenshot's inner picture, a turn, a region):
# their groups' references are the candidates the picture may join.
INNER_NEIGHBOURS = 8
MAX_NEIGHBOURS = 256
# A copy with bars around its picture is the best copy only if its picture has this many times the
# pixels of the best copy without bars (bar detection is accurate to a few lines, not exact).
BARS_HANDICAP = 1.05
# A pair above the threshold is grouped only if it is within this much of the best match of one
# of its two pictures, so a weak look-alike link cannot pull a picture away from its real copies.
# A link the pHash rule confirms is no exception: two cards of one pack (an eight and a nine of
# diamonds) hash alike within 2 bits at a similarity of 0.80, and only this filter keeps them apart.
RIVAL_MARGIN = 0.05

# A cropped copy may match a region of a group member this similar to the reference instead of
# the reference's own: the same picture, saved otherwise. A copy whose white bars cannot be told from
# a page's white background is often the reference, and its regions then frame the picture
# differently from the original's.
TWIN_SIMILARITY = 0.99

# A copy stays with the better of two references it matches unless the worse one matches it by
# more than this much better (`_assign`). On five validation draws, a default scan's recall went
# 0.7277 -> 0.7330 at 0.02 with one more false pair (164 -> 165); at 0.03, 33 more: three
# look-alike distractors that match a third one at 0.989 and an original's copy at 0.956 then
# joined the original's group. With the one hop through a copy (`_join_through_copies`) as well,
# recall went to 0.7536 with 169 false pairs (precision 0.99147 -> 0.99152): copies turned 10°
# 0.20 -> 0.35, the combined edit 0.09 -> 0.28, centre crops 0.76 -> 0.84. Letting pHash-confirmed
# links (below the threshold) carry that hop added 76 false pairs for 0.25 points of recall.
STAY_MARGIN = 0.02

# Two groups merge when at least this share of the pairs across them (whole pictures, exact copies
# counted once) match at the threshold and pass the rival filter. Measured on five draws of the
# validation split pooled: at the card's threshold then (0.953, calibrated with this rule in place) a
# default scan's recall goes 0.722 -> 0.724 (0.710 -> 0.721 before the best copy knew stretched
# copies) with no false pair added, and no share from 1/3 up adds one; 0.25 added 34 (two groups of
# look-alike siblings). At the earlier threshold 0.958, 0.2 gained more (0.704 -> 0.719) and stayed
# clean down to 0.05. Half keeps twice the highest share that ever added a false pair.
MERGE_SHARE = 0.5

# A pHash shared by more pictures than this says little about any of them (blank and nearly flat
# pictures hash alike), so greyscale copies are not looked for among them. A picture and its copies
# often share one: with a limit of 8, 58 greyscale copies over five validation draws went unfound.
GREYSCALE_BUCKET = 64
# On five validation draws, an equal pHash between a colourless and a colour picture beyond the
# card's rule (more than 0.12 under the threshold) was a greyscale copy in 80 pairs and never a
# false one; within 2 bits it added 14 copies and 19 false pairs, so only equal hashes count.

# Two pictures have one shape when their long-over-short side ratios differ by at most this share:
# resizing rounds a side to a whole pixel, which moves the ratio well under 1% from 100 pixels up.
SHAPE_TOLERANCE = 0.03

PathPair = frozenset[str]


QualityKey = tuple[float, bool, bool, int, float, str]


def quality_key(record: ImageRecord, reshaped: float | None = None) -> QualityKey:
    """Sort key putting the best copy first: most picture pixels (bars added around a picture do
    not count, and a copy with bars must beat one without by `BARS_HANDICAP`; a copy stretched out
    of its picture's shape counts the pixels it would keep at that shape, `reshaped`, and loses a
    tie), then colour over greyscale (a greyscale copy saved as PNG has more bytes than its colour
    JPEG, and is still the copy to lose), then most bytes, then oldest, then path."""
    count = record.picture_pixels if reshaped is None else reshaped
    count /= BARS_HANDICAP if record.picture_share < 1.0 else 1.0
    return (-count, reshaped is not None, record.colourless, -record.bytes, record.mtime, record.path)


def shape_of(record: ImageRecord) -> float | None:
    """The long side over the short one (a quarter turn keeps it), or None for a picture with bars,
    whose own shape is not known."""
    if record.picture_share < 1.0 or min(record.width, record.height) < 1:
        return None
    return max(record.width, record.height) / min(record.width, record.height)


def in_common_shape(record: ImageRecord, shape: float) -> float:
    """The pixels a picture keeps at another shape without being enlarged: a copy stretched wider
    has no more picture than the original it was stretched from."""
    long_side, short_side = max(record.width, record.height), min(record.width, record.height)
    return min(long_side, short_side * shape) * min(short_side, long_side / shape)


@dataclass(frozen=True)
class HashConfirm:
    """Below the threshold by at most `margin`, a pair links if its pHashes differ by at most
    `max_distance` bits and its colour signatures, where known, agree (`dupfinder.chroma`).
    Calibrated with the threshold (`benchmarks.accuracy --calibrate`)."""

    margin: float
    max_distance: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(
                f"Invalid value for `margin`: expected a similarity step in [0, 1], "
                f"received: margin={self.margin!r}"
            )
        if not 0 <= self.max_distance <= 64:
            raise ValueError(
                f"Invalid value for `max_distance`: expected 0..64 bits, "
                f"received: max_distance={self.max_distance!r}"
            )


@dataclass(frozen=True)
class AlignmentRule:
    """Pairs scoring from `floor` up to the threshold are aligned (`dupfinder.alignment`); they link
    when the aligned parts score at least `min_similarity`. Calibrated with the threshold
    (`benchmarks.accuracy --calibrate`)."""

    floor: float
    min_similarity: float

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> AlignmentRule:
        """The rule as a card or a calibration log writes it: {"floor": f, "min_similarity": s}."""
        return cls(float(fields["floor"]), float(fields["min_similarity"]))

    def __post_init__(self) -> None:
        if not (-1.0 <= self.floor <= 1.0 and -1.0 <= self.min_similarity <= 1.0):
            raise ValueError(
                f"Invalid value for the alignment rule: expected similarities in [-1, 1], "
                f"received: floor={self.floor!r}, min_similarity={self.min_similarity!r}"
            )


@dataclass(frozen=True)
class AlignedPair:
    """What aligning two pictures found (`dupfinder.alignment`): the model's similarity of their
    aligned shared part, and which of them lies (nearly) wholly inside the other; both do when
    they frame one picture alike."""

    score: float
    first_inside: bool
    second_inside: bool

    def reversed(self) -> AlignedPair:
        return AlignedPair(self.score, self.second_inside, self.first_inside)


Aligner = Callable[[str, str], AlignedPair | None]


@dataclass(frozen=True)
class Neighbour:
    index: int  # into the graph's records
    similarity: float


class NeighbourGraph:
    """The k-nearest-neighbour graph of a scan, kept so regrouping needs no new search."""

    def __init__(
        self,
        records: Sequence[ImageRecord],
        vectors: np.ndarray,
        exact: Iterable[Sequence[int]] = (),
        floor: float = 0.5,
        neighbours: int = DEFAULT_NEIGHBOURS,
        threads: int = 1,
        hashes: Sequence[int] | None = None,
        confirm: HashConfirm | None = None,
        hash_views: Sequence[Sequence[int]] | None = None,
        compared_views: Sequence[str] = (),
        inner: Sequence[np.ndarray | None] | None = None,
        turned: Sequence[np.ndarray | None] | None = None,
        colours: Sequence[int] | None = None,
        regions: Sequence[np.ndarray | None] | None = None,
        alignment: AlignmentRule | None = None,
    ) -> None:
        if len(records) != len(vectors):
            raise ValueError(f"{len(records)} records but {len(vectors)} vectors")
        if hashes is not None and len(hashes) != len(records):
            raise ValueError(f"{len(records)} records but {len(hashes)} perceptual hashes")
        if hash_views is not None and len(hash_views) != len(records):
            raise ValueError(f"{len(records)} records but {len(hash_views)} sets of pHash views")
        if colours is not None and len(colours) != len(records):
            raise ValueError(f"{len(records)} records but {len(colours)} colour signatures")
        if inner is not None and len(inner) != len(records):
            raise ValueError(f"{len(records)} records but {len(inner)} inner vectors")
        if turned is not None and len(turned) != len(records):
            raise ValueError(f"{len(records)} records but {len(turned)} turned vector pairs")
        if regions is not None and len(regions) != len(records):
            raise ValueError(f"{len(records)} records but {len(regions)} sets of region vectors")
        self.records = list(records)
        self.floor = floor
        self.clusters = _clusters(len(self.records), exact, self.records)
        self.representatives = [cluster[0] for cluster in self.clusters]
        # Byte-identical files share a hash, so a cluster's representative speaks for it.
        self._hashes = None if hashes is None else [int(hashes[i]) for i in self.representatives]
        self.confirm = confirm if hashes is not None else None
        # Each picture's pHashes mirrored and turned (`VIEWS` order), and which of them count.
        self._hash_views = (
            None
            if hash_views is None
            else [tuple(int(h) for h in hash_views[i]) for i in self.representatives]
        )
        unknown = set(compared_views) - set(VIEWS)
        if unknown:
            raise ValueError(
                f"Invalid value for `compared_views`: expected names from {VIEWS}, received: {unknown}"
            )
        self._compared = [(name, VIEWS.index(name)) for name in compared_views]
        self._confirmed_views: dict[tuple[int, int], str] = {}  # pairs confirmed through a view
        # Each cluster's shape and quality as its record alone tells; `groups` ranks against them.
        self._shapes = [shape_of(self.records[cluster[0]]) for cluster in self.clusters]
        self._record_keys = [quality_key(self.records[cluster[0]]) for cluster in self.clusters]
        self._keys = self._record_keys  # per `groups` call: stretched copies ranked at their shape
        self._ignored_paths: tuple[frozenset[PathPair], frozenset[str]] = (frozenset(), frozenset())
        self._colours = None if colours is None else [int(colours[i]) for i in self.representatives]
        self._rep_vectors = np.ascontiguousarray(
            vectors[self.representatives] if self.representatives else vectors[:0], dtype=np.float32
        )
        self._index = _build_index(self._rep_vectors, threads)
        self.edges = self._search(neighbours)
        # What the aligned shared part of a pair below the threshold scores (`dupfinder.alignment`),
        # for the pairs `align` found one picture inside the other; the rule may be changed later
        # (calibration does), the scores stay.
        self.alignment = alignment
        self.aligned_pairs: dict[tuple[int, int], AlignedPair] = {}
        self._asked: set[tuple[int, int]] = set()
        self._aligned_links: set[tuple[int, int]] = set()  # per `groups` call
        self._greyscale_pairs = self._find_greyscale_copies()
        # Clusters with second looks: (kind, vector) each, and the whole pictures most like them.
        self.views: dict[int, list[tuple[str, np.ndarray]]] = {}
        self.view_neighbours: dict[int, set[int]] = {}
        # Found by the looks that are compared the other way round (a turn, a region): those whole
        # pictures may join this picture's group, not this picture theirs.
        self.owned_neighbours: dict[int, set[int]] = {}
        self._landscape = [
            is_landscape(self.records[r].width, self.records[r].height) for r in self.representatives
        ]
        self._pixels = [self.records[r].picture_pixels for r in self.representatives]
        self._screenshots: set[int] = set()  # clusters with a screenshot look: see `_alignable`
        if inner is not None or turned is not None or regions is not None:
            none: list[np.ndarray | None] = [None] * len(self.records)
            self._search_views(
                none if inner is None else inner,
                none if turned is None else turned,
                none if regions is None else regions,
            )
        # Each cluster's best match; a byte-identical copy is a perfect one.
        self.best = np.array([1.0 if len(c) > 1 else -1.0 for c in self.clusters], np.float32)
        for (a, b), similarity in self.edges.items():
            self.best[a] = max(self.best[a], similarity)
            self.best[b] = max(self.best[b], similarity)

    def _search(self, neighbours: int) -> dict[tuple[int, int], float]:
        """Symmetric edges (cluster i < cluster j) with similarity at or above the floor."""
        count = len(self.representatives)
        edges: dict[tuple[int, int], float] = {}
        pending = np.arange(count)
        k = min(neighbours, count)
        while len(pending) and k > 1:
            labels, similarities = self._query(self._rep_vectors[pending], k)
            sources = np.repeat(pending, k).reshape(len(pending), k)
            keep = (similarities >= self.floor) & (labels != sources)
            low = np.minimum(sources[keep], labels[keep]).tolist()
            high = np.maximum(sources[keep], labels[keep]).tolist()
            for key, similarity in zip(zip(low, high), similarities[keep].tolist()):
                if similarity > edges.get(key, -2.0):
                    edges[key] = similarity
            # A row whose k-th neighbour is still above the floor may have more: ask again, wider.
            saturated = similarities[:, -1] >= self.floor
            if k >= min(count, MAX_NEIGHBOURS) or not saturated.any():
                break
            pending, k = pending[saturated], min(k * 2, count, MAX_NEIGHBOURS)
        return edges

    def align(
        self,
        aligner: Aligner,
        floor: float,
        below: float,
        progress: Callable[[int, int], None] | None = None,
        workers: int = 1,
    ) -> None:
        """Ask `aligner` about every edge from `floor` up to `below` (the scan's threshold) not
        asked about yet, `workers` pairs at a time (the aligner must then be safe to call from
        threads); `progress(done, total)` is called between pairs and may raise to stop, keeping
        the answers so far.

        A pair whose pictures the model alone already puts in one group at `below` is not asked
        about: a link inside a group adds nothing but ways to move its members. On five validation
        draws that left a quarter of the pairs unaligned, and a scan's recall went 0.821 -> 0.827
        with the same false pairs."""
        together = self._grouped_without_alignment(below)
        band = sorted(
            pair
            for pair, s in self.edges.items()
            if floor <= s < below
            and pair not in self._asked
            and not together(*pair)
            and self._alignable(*pair)
        )

        def ask(pair: tuple[int, int]) -> tuple[tuple[int, int], AlignedPair | None]:
            first, second = (self.records[self.representatives[node]].path for node in pair)
            return pair, aligner(first, second)

        def keep(pair: tuple[int, int], found: AlignedPair | None) -> None:
            self._asked.add(pair)
            if found is not None:
                self.aligned_pairs[pair] = found

        if progress is not None:
            progress(0, len(band))
        if workers <= 1:
            for done, pair in enumerate(band, 1):
                keep(*ask(pair))
                if progress is not None:
                    progress(done, len(band))
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="align") as pool:
            futures = [pool.submit(ask, pair) for pair in band]
            try:
                for done, future in enumerate(as_completed(futures), 1):
                    keep(*future.result())
                    if progress is not None:
                        progress(done, len(band))
            finally:
                for future in futures:
                    future.cancel()  # a stop (or an error) leaves the pairs not started unasked

    def _alignable(self, a: int, b: int) -> bool:
        """Whether a pair may link by its aligned parts: not when either picture is a screenshot
        with a picture pasted in (`dupfinder.framed`). It joins the photo's group through that
        picture (`_attach_by_views`); linked by alignment to the photo's crops, the canvas, with
        more pixels than the photo, became their reference and took them from the photo's group
        (on five validation draws, screenshots found 0.960 -> 0.832)."""
        return a not in self._screenshots and b not in self._screenshots

    def _grouped_without_alignment(self, threshold: float) -> Callable[[int, int], bool]:
        """Whether two clusters are in one group at `threshold` when no pair is aligned."""
        rule, self.alignment = self.alignment, None
        try:
            groups = self.groups(threshold)
        finally:
            self.alignment = rule
        cluster_of = {self.records[cluster[0]].path: node for node, cluster in enumerate(self.clusters)}
        group_of = {
            cluster_of[member.image.path]: number
            for number, group in enumerate(groups)
            for member in group.members
            if member.image.path in cluster_of
        }
        return lambda a, b: a in group_of and group_of[a] == group_of.get(b)

    def _aligned_similarity(self, pair: tuple[int, int], similarity: float) -> float | None:
        """The aligned parts' score when the alignment rule accepts the pair, else None."""
        rule = self.alignment
        found = self.aligned_pairs.get(pair)
        if rule is None or found is None or similarity < rule.floor:
            return None
        return found.score if found.score >= rule.min_similarity and found.score > similarity else None

    def _search_views(
        self,
        inner: Sequence[np.ndarray | None],
        turned: Sequence[np.ndarray | None],
        regions: Sequence[np.ndarray | None],
    ) -> None:
        """For each picture with second looks, the whole pictures nearest them (above the floor);
        a turned look is compared with landscape pictures only, a region with smaller pictures."""
        for cluster, representative in enumerate(self.representatives):
            looks = []
            picture, turns, parts = inner[representative], turned[representative], regions[representative]
            if picture is not None:
                looks.append(("screenshot", np.asarray(picture, np.float32)))
            if turns is not None:
                looks += [("turned", np.asarray(vector, np.float32)) for vector in turns]
            if parts is not None:
                looks += [("cropped", np.asarray(vector, np.float32)) for vector in parts]
            if looks:
                self.views[cluster] = looks
            if picture is not None:
                self._screenshots.add(cluster)
        k = min(INNER_NEIGHBOURS, len(self.representatives))
        if not self.views or k < 1:
            return
        owners = [(cluster, kind) for cluster, looks in self.views.items() for kind, _ in looks]
        queries = np.stack([vector for looks in self.views.values() for _, vector in looks])
        labels, similarities = self._query(queries, k)
        for (owner, kind), row_labels, row_similarities in zip(
            owners, labels.tolist(), similarities.tolist()
        ):
            found = {
                label
                for label, similarity in zip(row_labels, row_similarities)
                if label != owner and similarity >= self.floor and self._comparable(owner, kind, label)
            }
            if kind != "cropped":  # a region never takes its owner into a smaller picture's group
                self.view_neighbours.setdefault(owner, set()).update(found)
            if kind != "screenshot":
                self.owned_neighbours.setdefault(owner, set()).update(found)

    def _comparable(self, owner: int, kind: str, other: int) -> bool:
        """Whether `owner`'s look of this kind may be compared with `other`'s whole picture."""
        if kind == "turned":
            return self._landscape[other]
        if kind == "cropped":
            return may_be_cropped_from(self._pixels[other], self._pixels[owner])
        return True

    def _query(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self._index.set_ef(max(2 * k, 64))
        labels, distances = self._index.knn_query(vectors, k=k)
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def nearest(self, vector: np.ndarray, count: int = 20) -> list[Neighbour]:
        """Pictures most similar to `vector` (the "find similar" query), exact copies included."""
        if not self.representatives:
            return []
        k = min(count, len(self.representatives))
        labels, similarities = self._query(np.asarray(vector, np.float32)[None, :], k)
        found = [
            Neighbour(member, float(sim))
            for cluster_index, sim in zip(labels[0], similarities[0])
            for member in self.clusters[cluster_index]
        ]
        return found[:count]

    def groups(self, threshold: float, ignored: frozenset[PathPair] = frozenset()) -> list[Group]:
        """Duplicate groups at `threshold` (min cosine similarity, at least the graph's floor)."""
        if threshold < self.floor - 1e-9:
            raise ValueError(
                f"Invalid value for `threshold`: expected >= the graph's floor "
                f"{self.floor}, received: threshold={threshold}"
            )
        adjacency = self._adjacency(threshold, ignored)
        self._keys = self._quality_keys(adjacency)
        assignment, through_twin = _assign(
            range(len(self.clusters)),
            adjacency,
            key=self._keys.__getitem__,
            aligned=self._aligned_links,
            may_join_through=self._may_join_through,
        )
        chained = self._join_through_copies(assignment, adjacency, threshold, ignored, through_twin)
        # A copy that joined through a twin links to the reference with the twin link's similarity
        # (so a lone picture may later take it for a twin too, when that link is >= 0.99).
        for reference, members in assignment.items():
            for member in members:
                if member in through_twin:
                    adjacency.setdefault(reference, {})[member] = through_twin[member][1]
        merged = self._merge_groups(assignment, adjacency, threshold, ignored)
        attached = self._attach_by_views(assignment, adjacency, threshold, ignored)
        for owner, (reference, similarity, _) in attached.items():
            adjacency.setdefault(reference, {})[owner] = similarity
        made = (
            self._make_group(ref, members, adjacency, threshold, attached, through_twin, merged | chained)
            for ref, members in assignment.items()
        )
        groups = [group for group in made if group is not None]
        groups.sort(key=lambda g: (-len(g.members), g.reference.image.path))
        return [Group(index + 1, g.kind, g.members) for index, g in enumerate(groups)]

    def _adjacency(self, threshold: float, ignored: frozenset[PathPair]) -> dict[int, dict[int, float]]:
        adjacency: dict[int, dict[int, float]] = {}
        self._confirmed_views = {}
        self._aligned_links = set()
        for (a, b), similarity in self.edges.items():
            aligned = self._aligned_similarity((a, b), similarity) if similarity < threshold else None
            if aligned is not None:
                self._aligned_links.add((a, b))
                similarity = aligned
            view = self._confirming_view(a, b, similarity, threshold) if similarity < threshold else None
            if similarity < threshold and view is None:
                continue
            if view:
                self._confirmed_views[(a, b)] = view
            if self._is_ignored(a, b, ignored):
                continue
            rival = similarity < self._rival_floor(a, b)
            if rival and (a, b) not in self._greyscale_pairs:
                continue
            adjacency.setdefault(a, {})[b] = similarity
            adjacency.setdefault(b, {})[a] = similarity
        return adjacency

    def _join_through_copies(
        self,
        assignment: dict[int, list[int]],
        adjacency: dict[int, dict[int, float]],
        threshold: float,
        ignored: frozenset[PathPair],
        through: dict[int, tuple[int, float]],
    ) -> set[int]:
        """Move each reference left alone into the group of a better reference when it matches,
        at the threshold, one of that group's copies that matched the reference (or its twin) at
        the threshold too; in place, recording the copy in `through`. Returns the moved nodes.

        A copy turned 10° and a centre crop are both copies of the original, but the model often
        scores only the crop (framed like the turned copy) above the threshold against the
        original. One hop only: a picture that joined this way is no copy to join through. Links
        the pHash rule confirms below the threshold do not count: two look-alike drawings joined
        through a mirrored copy that way (`STAY_MARGIN` has the figures)."""
        group_of = {member: ref for ref, members in assignment.items() for member in members}

        def matched_its_reference(member: int) -> bool:
            if member in through:
                return through[member][1] >= threshold
            return adjacency[group_of[member]].get(member, -2.0) >= threshold

        chained: set[int] = set()
        for node in sorted(assignment, key=self._keys.__getitem__):
            if assignment[node]:
                continue
            links = [
                (similarity, member)
                for member, similarity in adjacency.get(node, {}).items()
                if similarity >= threshold
                and member in group_of
                and self._may_join_through(node, member)
                and self._better(group_of[member], node)
                and matched_its_reference(member)
            ]
            for similarity, member in sorted(links, key=lambda link: (-link[0], self._keys[link[1]])):
                reference = group_of[member]
                group = [reference, *assignment[reference]]
                if any(self._is_ignored(node, other, ignored) for other in group):
                    continue
                del assignment[node]
                assignment[reference].append(node)
                through[node] = (member, similarity)
                chained.add(node)
                break
        return chained

    def _merge_groups(
        self,
        assignment: dict[int, list[int]],
        adjacency: dict[int, dict[int, float]],
        threshold: float,
        ignored: frozenset[PathPair],
    ) -> set[int]:
        """Merge groups of one picture (see `MERGE_SHARE`), in place: the better reference keeps
        the group. Each moved node links to the new reference by its own similarity when that
        reaches the threshold, else by its best match among the copies it joined (not those it
        came with); returns the latter nodes."""
        nodes = {
            ref: [ref, *members]
            for ref, members in assignment.items()
            if members or len(self.clusters[ref]) > 1
        }
        group_of = {node: ref for ref, group in nodes.items() for node in group}
        first_group = dict(group_of)
        links = [
            pair
            for pair, similarity in self.edges.items()
            if similarity >= threshold and pair[0] in group_of and pair[1] in group_of
        ]
        moved: set[int] = set()
        while True:
            candidates = {
                (min(group_of[a], group_of[b]), max(group_of[a], group_of[b]))
                for a, b in links
                if a in group_of and b in group_of and group_of[a] != group_of[b]
            }
            scored: list[tuple[float, int, int, list[bool]]] = []
            for first, second in candidates:
                keep, gone = (first, second) if self._better(first, second) else (second, first)
                matches = self._matches_across(nodes[gone], nodes[keep], threshold)
                scored.append(
                    (
                        float(matches.mean()),
                        keep,
                        gone,
                        [bool(m) for m in np.asarray(matches.any(axis=1)).ravel()],
                    )
                )
            scored.sort(key=lambda entry: (-entry[0], entry[1], entry[2]))
            touched: set[int] = set()
            for share, keep, gone, matching in scored:
                if share < MERGE_SHARE:
                    break
                if keep in touched or gone in touched:
                    continue  # scored before an earlier merge changed it: next round
                # A group whose reference matches one of the copies it joins moves whole (each
                # member matches that reference); otherwise only its members that match one move,
                # and the rest stay with their reference. No picture comes in by a longer chain.
                group = nodes[gone]
                movers = group if matching[0] else [n for n, m in zip(group, matching) if m]
                if any(self._is_ignored(x, y, ignored) for x in movers for y in nodes[keep]):
                    continue
                if matching[0]:
                    del nodes[gone], assignment[gone]
                else:
                    nodes[gone] = [n for n in group if n not in movers]
                    assignment[gone] = nodes[gone][1:]
                    if not assignment[gone] and len(self.clusters[gone]) == 1:
                        del nodes[gone], group_of[gone]  # alone: no longer a group
                for node in movers:
                    group_of[node] = keep
                moved.update(movers)
                nodes[keep] += movers
                assignment[keep] += movers
                touched.update((keep, gone))
            if not touched:
                break
        plain = set()
        for node in moved:
            reference = group_of[node]
            vector = self._rep_vectors[node]
            own = float(vector @ self._rep_vectors[reference])
            if own >= threshold:
                plain.add(node)
                adjacency.setdefault(reference, {})[node] = own
                continue
            others = [n for n in nodes[reference] if first_group[n] != first_group[node]]
            adjacency.setdefault(reference, {})[node] = float(np.max(self._rep_vectors[others] @ vector))
        return moved - plain

    def _matches_across(self, first: Sequence[int], second: Sequence[int], threshold: float) -> np.ndarray:
        """Which pairs across two groups match at the threshold and pass the rival filter (two
        look-alike pictures' copies may all match one another at a low threshold, yet far less
        than each matches its own copies)."""
        first, second = list(first), list(second)
        across = self._rep_vectors[first] @ self._rep_vectors[second].T
        rivals = self._rival_floor(np.array(first)[:, None], np.array(second)[None, :])
        return (across >= threshold) & (across >= rivals)

    def _rival_floor(self, a: int | np.ndarray, b: int | np.ndarray) -> Any:
        """The similarity under which a link between clusters `a` and `b` (broadcast) is a rival's:
        `RIVAL_MARGIN` below the weaker of their best matches."""
        return np.minimum(self.best[a], self.best[b]) - RIVAL_MARGIN

    def _look_match(self, picture: int, reference: int, twins: Sequence[int] = ()) -> tuple[float, str]:
        """The best similarity between `picture` and `reference` through a second look, and its
        kind: `picture`'s screenshot or turned looks against the reference's whole picture, or the
        reference's turns (for a landscape picture) or regions (for a smaller picture) against the
        picture's whole. Regions may also be those of the reference's `twins`, members that are the
        same picture (see `TWIN_SIMILARITY`). A picture's own regions never make it a member of a
        smaller picture's group."""
        scored = [
            (float(vector @ self._rep_vectors[reference]), kind)
            for kind, vector in self.views.get(picture, ())
            if kind != "cropped" and (kind != "turned" or self._landscape[reference])
        ]
        scored += [
            (float(vector @ self._rep_vectors[picture]), kind)
            for owner in (reference, *twins)
            for kind, vector in self.views.get(owner, ())
            if kind != "screenshot"
            and (owner == reference or kind == "cropped")
            and self._comparable(owner, kind, picture)
        ]
        return max(scored, default=(-2.0, ""))

    def _attach_by_views(
        self,
        assignment: dict[int, list[int]],
        adjacency: dict[int, dict[int, float]],
        threshold: float,
        ignored: frozenset[PathPair],
    ) -> dict[int, tuple[int, float, str]]:
        """Move each ungrouped picture into the group whose reference matches it best through a
        second look (at least `threshold`); returns picture -> (reference, similarity, kind)."""
        group_of = {ref: ref for ref in assignment} | {m: ref for ref, ms in assignment.items() for m in ms}
        seen_by: dict[int, set[int]] = {}  # picture -> pictures whose turn or region it is like
        for owner, labels in self.owned_neighbours.items():
            for label in labels:
                seen_by.setdefault(label, set()).add(owner)
        # A picture alone whose whole matches some group's member, not its reference.
        beside = {p for p, members in assignment.items() if not members and adjacency.get(p)}
        attached: dict[int, tuple[int, float, str]] = {}
        for picture in sorted(set(self.view_neighbours) | set(seen_by) | beside):
            if assignment.get(picture) != []:
                continue  # grouped by its whole picture already
            near = self.view_neighbours.get(picture, set()) | seen_by.get(picture, set())
            near |= set(adjacency.get(picture, {}))
            candidates = {group_of[n] for n in near} - {picture} - set(attached)
            scored = []
            for ref in candidates:
                if self._is_ignored(picture, ref, ignored):
                    continue
                twins = _twins(ref, assignment[ref], adjacency)
                scored.append((*self._look_match(picture, ref, twins), ref))
                links = adjacency.get(picture, {})
                through = [links.get(t, -2.0) for t in twins if self._may_join_through(picture, t)]
                scored.append((max(through, default=-2.0), "twin", ref))
            if not scored:
                continue
            similarity, kind, reference = max(scored)
            if similarity < threshold:
                continue
            if kind == "turned" and not assignment[reference] and self._better(picture, reference):
                # Two lone copies, one turned: the better one is the reference. (A screenshot
                # never is: its pixels are mostly not the photo's.)
                picture, reference = reference, picture
            del assignment[picture]
            assignment[reference].append(picture)
            group_of[picture] = reference
            attached[picture] = (reference, similarity, kind)
        return attached

    def _better(self, a: int, b: int) -> bool:
        return self._keys[a] < self._keys[b]

    def _may_join_through(self, node: int, copy: int) -> bool:
        """Whether `node` may join a group through `copy`, a member that stands for the group's
        reference (a twin, or the one hop). A copy that lies inside `node` while `node` does not
        lie inside it (they link by their aligned parts only) is no way in: a crop of a picture that
        leaves out what a second version changed lies inside both versions. A part of a copy is a
        part of the picture."""
        pair = (min(node, copy), max(node, copy))
        if pair not in self._aligned_links:
            return True
        found = self.aligned_pairs[pair] if node < copy else self.aligned_pairs[pair].reversed()
        return found.first_inside or not found.second_inside

    def _quality_keys(self, adjacency: dict[int, dict[int, float]]) -> list[QualityKey]:
        """Each cluster's `quality_key`, a picture whose shape differs from the one most of its
        matches share (by more than `SHAPE_TOLERANCE`) counted at that shape: a copy stretched
        wider has more pixels than its original, and no more picture. Only pictures with matches
        can differ from their record's key."""
        keys = list(self._record_keys)
        for node, links in adjacency.items():
            own = self._shapes[node]
            if own is None:
                continue
            common = _common_shape([self._shapes[n] for n in links])
            if common is not None and not _same_shape(own, common):
                record = self.records[self.clusters[node][0]]
                keys[node] = quality_key(record, in_common_shape(record, common))
        return keys

    def _find_greyscale_copies(self) -> set[tuple[int, int]]:
        """Pairs of a colourless and a colour picture whose pHashes are equal (`GREYSCALE_BUCKET`),
        added to the edges with their similarity, however low: the model can score a greyscale
        copy of a picture whose colours are its content far below its threshold, even under the
        graph's floor, while its light and dark layout is the original's to the bit."""
        if self._hashes is None or self._colours is None:
            return set()  # (they count only with the card's rule: `_confirming_view`)
        by_hash: dict[int, list[int]] = {}
        for node, hashed in enumerate(self._hashes):
            by_hash.setdefault(hashed, []).append(node)
        pairs: set[tuple[int, int]] = set()
        for nodes in by_hash.values():
            if not 1 < len(nodes) <= GREYSCALE_BUCKET:
                continue
            grey = [n for n in nodes if is_colourless(self._colours[n])]
            colour = [n for n in nodes if not is_colourless(self._colours[n])]
            for a in grey:
                for b in colour:
                    key = (min(a, b), max(a, b))
                    pairs.add(key)
                    self.edges.setdefault(key, float(self._rep_vectors[a] @ self._rep_vectors[b]))
        return pairs

    def _confirming_view(self, a: int, b: int, similarity: float, threshold: float) -> str | None:
        """For a pair just below the threshold whose perceptual hashes nearly agree and whose colours
        do not tell them apart (pHash is blind to a colour scheme): "" when they agree as they are,
        the view's name when they agree once `b` is mirrored or turned; None when they do not."""
        if self.confirm is None or self._hashes is None:
            return None
        if (a, b) in self._greyscale_pairs:
            return ""
        if similarity < max(threshold - self.confirm.margin, self.floor):
            return None
        views = self._hash_views[b] if self._hash_views is not None else ()
        candidates = [("", self._hashes[b])]
        if views:  # none for a picture whose views were not kept
            candidates += [(name, views[index]) for name, index in self._compared]
        for name, hashed in candidates:
            if distance(self._hashes[a], hashed) > self.confirm.max_distance:
                continue
            if self._colours is None:
                return name
            colours = self._colours[b] if not name else signature_view(self._colours[b], name)
            if colours_agree(self._colours[a], colours):
                return name
        return None

    def _is_ignored(self, a: int, b: int, ignored: frozenset[PathPair]) -> bool:
        """Whether the user said a file of cluster `a` and one of `b` are not duplicates. Most
        clusters hold no file any such pair names, which a set of those paths tells at once."""
        if not ignored:
            return False
        if self._ignored_paths[0] is not ignored:
            self._ignored_paths = (ignored, frozenset(path for pair in ignored for path in pair))
        named = self._ignored_paths[1]
        if not any(self.records[i].path in named for i in self.clusters[a]):
            return False
        return any(
            frozenset((self.records[i].path, self.records[j].path)) in ignored
            for i in self.clusters[a]
            for j in self.clusters[b]
        )

    def _make_group(
        self,
        reference: int,
        members: list[int],
        adjacency: dict[int, dict[int, float]],
        threshold: float,
        attached: dict[int, tuple[int, float, str]],
        through_twin: dict[int, tuple[int, float]],
        merged: set[int],
    ) -> Group | None:
        similarity = {reference: 1.0} | {m: adjacency[reference][m] for m in members}

        def hash_confirmed(member: int) -> bool:
            return similarity[member] < threshold and member not in attached and member not in merged

        def partner_pair(member: int) -> tuple[int, int]:
            partner = through_twin[member][0] if member in through_twin else reference
            return min(partner, member), max(partner, member)

        def hash_view(member: int) -> str:
            return self._confirmed_views.get(partner_pair(member), "")

        def aligned(member: int) -> bool:
            return (
                member not in attached
                and member not in merged
                and partner_pair(member) in self._aligned_links
            )

        ordered = [
            reference,
            *sorted(members, key=lambda m: (-similarity[m], self._keys[m])),
        ]
        result = [
            Member(
                self.records[i],
                similarity[c],
                hash_confirmed=hash_confirmed(c),
                hash_view=hash_view(c) if hash_confirmed(c) else "",
                group_match=c in merged,
                screenshot_match=c in attached and attached[c][2] == "screenshot",
                turned_match=c in attached and attached[c][2] == "turned",
                cropped_match=c in attached and attached[c][2] == "cropped",
                aligned_match=aligned(c),
            )
            for c in ordered
            for i in self.clusters[c]
        ]
        if len(result) < 2:
            return None
        return Group(0, "near" if members else "exact", tuple(result))


def _same_shape(first: float, second: float) -> bool:
    return abs(first / second - 1.0) <= SHAPE_TOLERANCE


def _common_shape(shapes: Sequence[float | None]) -> float | None:
    """The shape (long over short side) that more than half of at least two known shapes share,
    or None."""
    known = sorted(shape for shape in shapes if shape is not None)
    if len(known) < 2:
        return None
    middle = known[len(known) // 2]
    agreeing = [shape for shape in known if _same_shape(shape, middle)]
    return middle if 2 * len(agreeing) > len(known) else None


def _twins(reference: int, members: Sequence[int], adjacency: dict[int, dict[int, float]]) -> list[int]:
    """The members of a reference's group that are the same picture as it (`TWIN_SIMILARITY`)."""
    links = adjacency.get(reference, {})
    return [m for m in members if links.get(m, -1.0) >= TWIN_SIMILARITY]


def _clusters(count: int, exact: Iterable[Sequence[int]], records: Sequence[ImageRecord]) -> list[list[int]]:
    """Exact clusters plus singletons, each ordered best copy first."""
    taken: set[int] = set()
    clusters: list[list[int]] = []
    for cluster in exact:
        members = sorted(set(cluster) - taken, key=lambda i: quality_key(records[i]))
        taken.update(members)
        if members:
            clusters.append(members)
    clusters.extend([i] for i in range(count) if i not in taken)
    return clusters


def _assign(
    nodes: Iterable[int],
    adjacency: dict[int, dict[int, float]],
    key: Callable[[int], Any],
    aligned: Set[tuple[int, int]] = frozenset(),
    may_join_through: Callable[[int, int], bool] = lambda node, copy: True,
) -> tuple[dict[int, list[int]], dict[int, tuple[int, float]]]:
    """References in quality order; every other node joins the adjacent reference it matches best,
    unless a better reference (ranked before the node) matches it within `STAY_MARGIN` of that.

    A node that is not a reference matched a better one when references were chosen; a reference
    ranked after it became one only because it matched no reference itself (a copy turned 10°
    matching a centre crop, not the original). Letting the crop follow it would split one picture
    into two groups, the worse copy as the second one's reference.

    A member at least `TWIN_SIMILARITY` like its reference is the same picture (a twin) and stands
    for it: a node that matches a twin but no reference joins the twin's reference instead of
    starting a group of its own, with the twin link's similarity (returned by node, with the twin).
    A padded copy can be the reference while a crop matches only the unpadded photo. One hop only:
    a twin of a twin is not one.

    A node joins through a twin only when `may_join_through(node, twin)` allows it (see
    `NeighbourGraph._may_join_through`). A link by the whole pictures beats an `aligned` one (pairs
    linked by their aligned shared part, `AlignmentRule`) whatever their similarities: a part
    scores higher than its whole picture, and the alignment is a second opinion on pairs the model
    could not decide, not a rival to its first (on five validation draws, a scan's recall went
    0.8145 -> 0.8209 with it, at the same false pairs)."""

    def whole(a: int, b: int) -> bool:
        return (min(a, b), max(a, b)) not in aligned

    order = sorted(nodes, key=key)
    rank = {node: position for position, node in enumerate(order)}
    references: dict[int, list[int]] = {}
    twin_of: dict[int, int] = {}
    for node in order:
        links = adjacency.get(node, {})
        direct = [(similarity, -rank[ref], ref) for ref, similarity in links.items() if ref in references]
        if direct:
            similarity, _, ref = max(direct)
            if similarity >= TWIN_SIMILARITY:
                twin_of[node] = ref
        elif not any(neighbour in twin_of and may_join_through(node, neighbour) for neighbour in links):
            references[node] = []
    through_twin: dict[int, tuple[int, float]] = {}
    for node in order:
        if node in references:
            continue
        # reference -> (by the whole pictures, similarity, through)
        candidates: dict[int, tuple[bool, float, int]] = {}
        for neighbour, similarity in adjacency.get(node, {}).items():
            joins = neighbour if neighbour in references else twin_of.get(neighbour)
            if joins is None or (joins != neighbour and not may_join_through(node, neighbour)):
                continue
            found = (whole(node, neighbour), similarity, neighbour)
            if found[:2] > candidates.get(joins, (False, -2.0, -1))[:2]:
                candidates[joins] = found
        best = max(candidates, key=lambda ref: (*candidates[ref][:2], -rank[ref]))
        better = [ref for ref in candidates if rank[ref] < rank[node]]
        if rank[best] > rank[node] and better:
            kept = max(better, key=lambda ref: (*candidates[ref][:2], -rank[ref]))
            (kept_whole, kept_similarity, _), (best_whole, best_similarity, _) = (
                candidates[kept],
                candidates[best],
            )
            if kept_whole == best_whole and kept_similarity >= best_similarity - STAY_MARGIN:
                best = kept
        references[best].append(node)
        _, similarity, through = candidates[best]
        if through != best:
            through_twin[node] = (through, similarity)
    return references, through_twin


def _build_index(vectors: np.ndarray, threads: int):  # type: ignore[no-untyped-def]
    import hnswlib

    count, dim = vectors.shape if vectors.ndim == 2 else (0, 1)
    index = hnswlib.Index(space="cosine", dim=max(dim, 1))
    index.init_index(max_elements=max(count, 1), ef_construction=200, M=16, random_seed=0)
    index.set_num_threads(max(threads, 1))
    if count:
        index.add_items(vectors, np.arange(count))
    return index
