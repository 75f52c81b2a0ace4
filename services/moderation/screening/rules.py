"""Explainable rules for explicit crisis language.

Each rule is a general pattern for one kind of signal (first-person intent, a plan with means
and timing, a third-person emergency, ...). A match is then checked against its context: a
negation ("I'm not going to kill myself"), the past ("two years ago I wanted to die"), support
for someone else ("please don't hurt yourself"), quotation or reported speech, and idioms ("this
craving is killing me") turn it off or down. Rules add to the model's scores and explain them;
they never replace the model.

Every pattern is RE2 (`linear.py`), so member text cannot make screening slow: time grows with the
length of the text, whatever the text. The per-match context checks read a bounded window or a
fact computed once per sentence, for the same reason.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

from services.moderation.screening.linear import LinearPattern, Span, Subject
from services.moderation.screening.obfuscation import quoting_source
from streams.events import Category, Risk, RuleMatch

RISK_ORDER: dict[str, int] = {"none": 0, "concern": 1, "high": 2, "imminent": 3}


@dataclass(frozen=True)
class Rule:
    """One kind of crisis signal: what it is called, what it means, and how its context is read."""

    name: str
    #: What the rule finds, in a few words for moderators ("plan + means").
    label: str
    category: Category
    risk: Risk
    pattern: LinearPattern
    #: First-person rules need the writer to be the one at risk; third-person rules do not.
    first_person: bool = True
    #: Intent together with a plan, means or a goodbye is imminent danger: the side of that pair
    #: this rule's match stands for, if any.
    escalation: Literal["intent", "plan"] | None = None
    #: The words are also everyday speech ("I could kill for a coffee"): a negation inside the
    #: match, or an idiom over it, sets the match aside.
    everyday_words: bool = False
    #: A negation just before a first-person match sets it aside ("I'm not going to kill myself").
    #: Not for passive ideation, often said right after a disclaimer ("I won't do anything, I just
    #: don't care if I wake up").
    negation_sets_aside: bool = True
    #: Whether a match alone may hold the post. A rule that was not precise on the training
    #: corpus (`tests/unit/screening/test_rule_precision.py`) is still shown to moderators and still
    #: supports the model's imminence, but by itself it raises the post to concern only.
    holds: bool = True
    #: Why a rule that is precise on the corpus still does not hold alone: a kind of safe post,
    #: common on a recovery forum, that it alone would page (a test shows one). Corpus precision
    #: is necessary for holding alone, not sufficient: the corpus is written, not sampled.
    silenced_for: str = ""


@dataclass(frozen=True)
class Signal:
    """A rule's match that counts: the rule, the words it matched, and the level it gives the post."""

    rule: Rule
    #: As the reason quotes them: a match longer than 60 characters is cut and ends in "…".
    words: str
    #: The rule's level, or imminent once intent and a plan are found together.
    risk: Risk

    @property
    def category(self) -> Category:
        return self.rule.category

    @property
    def floor(self) -> Risk:
        """The level this signal alone gives the post: its level, or concern for a rule that does not hold."""
        return self.risk if self.rule.holds or RISK_ORDER[self.risk] <= RISK_ORDER["concern"] else "concern"

    @property
    def reason(self) -> str:
        return f"{self.rule.label}: '{self.words}'"

    def match(self, reason: int) -> RuleMatch:
        """This signal as the verdict carries it, quoted by the verdict's reason number `reason`."""
        return RuleMatch(
            rule=self.rule.name,
            label=self.rule.label,
            category=self.category,
            risk=self.risk,
            words=self.words,
            reason=reason,
        )


@dataclass(frozen=True)
class SetAside:
    """A rule's match that its context turned off ("negated", "past", ...), kept for moderators."""

    rule: Rule
    words: str
    why: str

    @property
    def reason(self) -> str:
        # Without its words, this is `RuleMatch.heading`: what a view without post text shows.
        return f"{self.rule.name} set aside ({self.why}): '{self.words}'"

    def match(self, reason: int) -> RuleMatch:
        """This match as the verdict carries it, quoted by the verdict's reason number `reason`."""
        return RuleMatch(
            rule=self.rule.name,
            label=self.rule.label,
            category=self.rule.category,
            risk=self.rule.risk,
            words=self.words,
            set_aside=self.why,
            reason=reason,
        )


def _rx(pattern: str) -> LinearPattern:
    return LinearPattern(pattern, word_start=True)


def _self(n: int) -> str:
    # "me" counts only before a word of time or urgency; `aheadN` is that lookahead (linear.py).
    return rf"(?:my ?self|me(?P<ahead{n}>\s*(?:now|tonight|today|already|please)))"


# " ?": an invisible character between the words is removed by normalization ("kill\u200bmyself"),
# and the reader still sees "killmyself".
_SUICIDE_CORE = (
    rf"kill(?:ing)? ?{_self(1)}|end(?:ing)? (?:it all|my life|things|it tonight|it)\b|take my (?:own )?life|"
    rf"off(?:ing)? ?{_self(2)}|unaliv\w* ?{_self(3)}?|hang(?:ing)? ?{_self(4)}|shoot(?:ing)? ?{_self(5)}|"
    r"jump(?:ing)? (?:off|in front of)|not (?:to )?wake up|be dead|disappear for good|"
    r"sewerslide|ctb\b|catch the bus|kms\b|kys\b"
)

#: "I have a", as "method or plan" and "stated plan" both read it.
_I_HAVE = r"i (?:have|'?ve got|already have) (?:a|the)"


def _self_harm_act(veto: int) -> str:
    """The writer's own act of self-injury, as "i ..." continues: the words that name it, less the
    accidents and idioms the same words are ("cut myself off", "burned myself on the stove").
    `veto` numbers its two vetoes, which must be unique in a pattern."""
    return (
        rf"(?:self[- ]?harmed|cut myself(?P<veto{veto}> (?:off|shaving|cooking|chopping|by accident|accidentally|"
        r"while|on (?:the|a|some|broken)|in the kitchen|at work))?|cut my (?:arms?|wrists?|legs?|thighs?|skin)|"
        rf"burn(?:ed|t) myself(?P<veto{veto + 1}> (?:cooking|by accident|accidentally|while|on (?:the|a|some)|"
        r"with (?:the|hot|boiling)|in the kitchen|at work))?|relapsed (?:on|with|into) (?:self[- ]?harm(?:ing)?|cutting))"
    )


#: Just now, or again: the times that make a told act current.
_JUST_NOW = (
    r"(?:again|last night|tonight|today|yesterday|this (?:morning|afternoon|evening|week)|earlier|"
    r"an? (?:hour|few hours|couple (?:of )?hours) ago)"
)
#: What may stand between "i" and the act ("i just cut", "i relapsed and self harmed").
_BEFORE_ACT = r"(?:just |have |'ve |ve |relapsed and |ended up |)"

RULES: tuple[Rule, ...] = (
    # Suicide
    Rule(
        "intent",
        "first-person intent",
        "suicide",
        "high",
        _rx(
            rf"\b(?:i(?:'m| am) (?:going to|gonna)|i'll|i will|gonna|going to|want(?:ed)? to|wanna|plan(?:ning)? to|"
            rf"about to|ready to|decided to|need to|thinking (?:about|of)|think i'?ll|might|should just)\b"
            rf"[^.!?\n]{{0,30}}?\b(?:{_SUICIDE_CORE})"
        ),
        escalation="intent",
        everyday_words=True,
    ),
    # On the 3,125-post training corpus this rule fired 13 times, never on a post labelled high or
    # imminent (past tense, quotes, jokes): alone it gives resources, and the model decides holds.
    Rule(
        "wish_to_die",
        "wish to die",
        "suicide",
        "concern",
        _rx(
            r"\b(?:(?:i |just )?(?:want(?:ed)?|wanna|ready|going|gonna|decided|plan(?:ning)?|need) (?:to )?(?:just )?die\b|"
            r"(?:i'?m|i am) ready to go\b)"
        ),
        escalation="intent",
        everyday_words=True,
    ),
    Rule(
        "ideation",
        "suicidal ideation",
        "suicide",
        "high",
        _rx(
            r"\b(?:i wish i (?:was|were) dead|wish i (?:could )?(?:die|disappear|was gone)|"
            r"better off (?:dead|without me)|no (?:reason|point) (?:to live|in living|to go on|in going on)|"
            r"don'?t want to (?:be alive|live|exist|be here anymore|wake up)|(?:i'?m|i am|feeling|feel) suicidal|"
            r"suicidal (?:again|thoughts|tonight)|everyone would be better off|tired of (?:being alive|living)|"
            r"can'?t (?:go on|keep going|do this anymore) (?:like this|living)|want it all to (?:end|stop) for good|"
            r"can'?t (?:continue|keep) (?:living|going on)|wish (?:i had|i'?d) never been born|wish i (?:was|were) never born|"
            r"leav(?:e|ing) this (?:earth|world)\b)"
        ),
        escalation="intent",
        holds=False,
    ),
    Rule(
        "method",
        "method or plan",
        "suicide",
        "high",
        _rx(
            rf"\b(?:{_I_HAVE} method\b|(?:suicide|goodbye) note|leav(?:e|ing) a note|"
            r"does (?:hanging|dying|drowning|jumping|overdosing|bleeding out) hurt|painless(?:est)? (?:way|method)s?|"
            r"(?:i )?need (?:to get )?a gun\b(?P<veto1> (?:safe|case|license|licence|permit|for (?:hunting|the range)))?|"
            r"lethal dose)"
        ),
        escalation="plan",
    ),
    Rule(
        # Apart from "method": on a recovery forum most plans are for the holidays, a relapse or a
        # hard date, so whether "I have a plan" alone holds a post is measured on its own (it does
        # not: 4 of 13, test_rule_precision.py). With intent it still makes the post imminent.
        "stated_plan",
        "stated plan",
        "suicide",
        "high",
        _rx(rf"\b{_I_HAVE} plan\b"),
        escalation="plan",
        holds=False,
    ),
    Rule(
        "someone_suicidal",
        "someone else at risk",
        "suicide",
        "high",
        _rx(
            r"\b(?:(?:going|was going|trying|tried|wants?|threaten(?:ed|ing|s)?) to kill (?:herself|himself|themselves|themself)|"
            r"(?:she|he|they) (?:cut|hurt|burned) (?:herself|himself|themselves)|might try again)"
        ),
        first_person=False,
    ),
    Rule(
        "slang",
        "filter-dodging slang",
        "suicide",
        "high",
        _rx(r"\b(?:kms|ctb|sewerslide|unalive(?: my ?self)?|catch the bus)\b"),
        escalation="intent",
        holds=False,
    ),
    Rule(
        "goodbye",
        "goodbye message",
        "suicide",
        "imminent",
        _rx(
            r"\b(?:this is (?:my )?(?:goodbye|last (?:post|message))|goodbye (?:everyone|all|forever|world)|"
            r"tell my (?:kids|son|daughter|mom|mum|dad|family|wife|husband) (?:i'?m sorry|i love them)|"
            r"(?:won'?t|will not) be (?:around|here) (?:tomorrow|much longer|anymore)|by the time (?:you|anyone) reads? this|"
            r"i'?ve (?:written|left) (?:a|my) note|gave away (?:my|all my) (?:stuff|things|dog|cat))"
        ),
        escalation="plan",
        holds=False,
    ),
    Rule(
        "plan_means",
        "plan + means",
        "suicide",
        "imminent",
        _rx(
            r"\b(?:(?:saved|saving|stockpil\w+|counted|hoarded|collected) (?:up )?(?:all )?(?:my |the )?(?:pills|meds|tablets)|"
            r"(?:pills|meds|tablets) (?:are )?(?:counted|lined up|saved up|in front of me)|"
            r"(?:bought|got|have) (?:a |the )?(?:rope|gun|razor blades?)(?: ready| for (?:it|this|tonight))?|"
            r"(?:standing|sitting) on (?:the|a) (?:bridge|ledge|roof)|wrote (?:my|a) (?:suicide|goodbye) (?:note|letter))"
        ),
        escalation="plan",
    ),
    Rule(
        "attempt",
        "attempt in progress",
        "suicide",
        "imminent",
        _rx(
            r"\b(?:i (?:just )?(?:took|swallowed) (?:all|the whole|every|a whole bunch of|too many)|"
            r"i(?:'ve| have) (?:just )?(?:taken|swallowed) (?:all|the whole|every|too many)|i (?:just )?cut too deep)"
        ),
    ),
    # Self-harm
    Rule(
        "self_harm",
        "self-harm",
        "self_harm",
        "high",
        _rx(
            r"\b(?:cut(?:ting)? my(?:self(?P<veto1> off)?| arms?| wrists?| legs?)|burn(?:ing|ed)? myself|hurt(?:ing)? myself|"
            r"self[- ]?harm(?:ing|ed)?|started cutting again|relapsed on (?:cutting|self[- ]?harm)|slit my wrists?|"
            r"hit(?:ting)? myself|punish(?:ing)? myself with)"
        ),
        holds=False,
    ),
    # Overdose, first person or someone present
    Rule(
        "overdose_self",
        "overdose (self)",
        "overdose",
        "high",
        _rx(
            r"\b(?:i(?:'m| am| think i'?m)? (?:overdosing|od'?ing)|i (?:think i )?(?:took|did|used) too much|"
            r"(?:i'?m|i am) (?:nodding out|turning blue|can'?t breathe)|took (?:way )?too many)"
        ),
    ),
    Rule(
        "overdose_other",
        "third-person emergency",
        "overdose",
        "imminent",
        _rx(
            r"\b(?:(?:he|she|they|my \w+|friend|roommate|brother|sister|son|daughter|partner|boyfriend|girlfriend|husband|wife)"
            r"[^.!?\n]{0,40}?(?:is |'s |are |isn'?t |won'?t |can'?t |not |turned |turning |keeps? )"
            r"(?:not breathing|blue|turning blue|unresponsive|passed out and (?:won'?t|can'?t)|nodding out|overdosing|od'?ing|"
            r"breathing (?:weird|funny|slow)|wake up|snoring weird|gurgling))"
        ),
        first_person=False,
    ),
    Rule(
        "not_breathing",
        "someone not breathing",
        "overdose",
        "imminent",
        _rx(
            r"\b(?:won'?t wake up|can'?t wake (?:him|her|them) up|lips are (?:blue|purple)|"
            r"(?:he|she|they)(?:'s| is| are) (?:blue|gray|grey) and)"
        ),
        first_person=False,
    ),
    # Withdrawal and medical emergencies
    Rule(
        "withdrawal_emergency",
        "withdrawal emergency",
        "medical",
        "imminent",
        _rx(
            r"\b(?:(?:having|had|just had) a seizure|i'?m seizing|(?:he|she|they)(?:'s| is| are) seizing|"
            r"seizures? (?:right now|again|from withdrawal)|chest (?:pain|is tight)[^.!?\n]{0,30}(?:can'?t breathe|left arm)|"
            r"(?:vomiting|throwing up) blood|hallucinating (?:bugs|things)|"
            r"seeing things that aren'?t there)"
        ),
        first_person=False,
        holds=False,
    ),
    Rule(
        "withdrawal_danger",
        "dangerous withdrawal",
        "medical",
        "high",
        _rx(
            r"\b(?:shaking so (?:bad|hard)|(?:i'?m|i am|i think i'?m|he'?s|she'?s) (?:having|getting|in) (?:the )?(?:dts|delirium tremens)|cold turkey (?:off|from) (?:alcohol|benzos|xanax|drinking)|"
            r"can'?t stop (?:shaking|vomiting|throwing up)|heart (?:is )?racing[^.!?\n]{0,30}(?:withdrawal|detox))"
        ),
    ),
    # Violence and abuse
    Rule(
        "violence",
        "threat to others",
        "violence",
        "high",
        _rx(
            r"\b(?:i(?:'m| am)? (?:going to|gonna|will|want to|could) (?:kill|hurt|stab|shoot|beat) "
            r"(?:him|her|them|my (?:dad|mom|boss|ex|neighbor|neighbour|husband|wife|brother|sister))|"
            r"(?:kill|hurt) (?:someone|somebody|everyone)(?: tonight| today)?\b)"
        ),
        everyday_words=True,
    ),
    Rule(
        "abuse",
        "abuse",
        "abuse",
        "high",
        _rx(
            r"\b(?:(?:he|she|my (?:husband|wife|boyfriend|girlfriend|partner|dad|father|mom|mother|stepdad|ex)) "
            r"(?:(?:hits|hit|beats|beat|chokes|choked|strangled|threatens|threatened|locks|locked|hurts|hurt|kicked|punched|"
            r"forces|forced) (?:me|her|my (?:mom|mum|sister|brother|kids?|son|daughter))|takes my phone|took my phone|won'?t let me (?:leave|go|see|talk))\b|"
            r"(?:make|makes) me regret it|afraid (?:of what )?(?:he|she)(?:'ll| will| might) do|"
            r"not safe at home|scared to go home)"
        ),
        holds=False,
    ),
    # Preparations and goodbyes: the behaviours that come before an attempt.
    Rule(
        "preparation",
        "preparation or goodbye",
        "suicide",
        "imminent",
        _rx(
            r"\b(?:(?:giving|gave|been giving) (?:away )?(?:all )?my (?:things|stuff|belongings|dog|cat|guitar|books)(?: away)?|"
            r"giving my (?:dog|cat|pets?) to|(?:writ(?:ten|ing)|wrote) (?:letters|a letter|notes?|goodbye) to (?:everyone|my|all)|"
            r"scheduled the (?:emails|messages)|i'?ll be gone (?:by|before|tomorrow)|nothing (?:keeping|holding) me here|"
            r"(?:got|have|i'?ve got) (?:everything|what i need) (?:ready|set up|planned)|everything (?:is )?(?:ready|set up)\b|"
            r"choosing to go out|don'?t (?:try to )?(?:find|look for) me|nice knowing (?:you|y'?all)|\bok(?:ay)? bye everyone|"
            r"now i can go\b|i'?ve done my part|(?:i'?ve|i have) (?:got|gotten) what i need\b|"
            r"(?:i'?ve|i have) taken care of (?:things|everything)|the letter for my (?:son|daughter|kids?|wife|husband|mom|mum|family)|"
            r"(?:this|it) (?:isn'?t|is not) (?:anyone'?s|anybody'?s|your) fault|just want(?:ed)? (?:someone|somebody|you (?:all|guys)|y'?all) to know\b)"
        ),
        escalation="plan",
        holds=False,
        silenced_for="step-nine amends letters ('wrote a letter to my daughter apologizing')",
    ),
    Rule(
        "passive_ideation",
        "passive ideation",
        "suicide",
        "high",
        _rx(
            r"\b(?:(?:don'?t|do not|wouldn'?t) (?:really )?care if i (?:wake up|die|don'?t wake up|make it)|"
            r"(?:go to sleep|fall asleep|sleep) and (?:not|never) wake up|want(?:ed)? (?:everything|it all) to stop (?:permanently|for good|forever)|"
            r"pain of (?:staying alive|living|being alive)|don'?t think i'?m coming back|kind of hoping it does|"
            r"hoping (?:something|it) (?:happens|kills me)|(?:thinking|thought) about ending (?:it|things|my life)|"
            r"researching how (?:much|many)|looking up (?:ways|how) to (?:die|kill myself|end it|do it)|how many (?:\w+ )?(?:it would take|to die|would kill)|"
            r"(?:they'?d|they would|(?:she|he) would|would) (?:at least )?get (?:the|my) life insurance|"
            r"won'?t be (?:a problem|a burden|around) (?:much longer|for long)|done with everything|"
            r"(?:i'?m|i am) (?:so )?tired of (?:being alive|living|existing)|drive (?:my car )?into (?:the|a|an) (?:overpass|wall|tree|river|truck))"
        ),
        escalation="intent",
        negation_sets_aside=False,
    ),
    # Overdose risk: depressants mixed, using alone, lost tolerance, untested supply.
    Rule(
        "overdose_risk",
        "overdose risk",
        "overdose",
        "high",
        _rx(
            r"\b(?:(?:fent\w*|heroin|dope|oxys?|opioids?|methadone|suboxone|percs?)[^.!?\n]{0,40}(?:xanax|bars|benzos?|klonopin|valium|vodka|alcohol|sleeping pills)|"
            r"(?:xanax|bars|benzos?|klonopin|valium|vodka|drinking|sleeping pills)[^.!?\n]{0,40}(?:fent\w*|heroin|dope|oxys?|opioids?|methadone|suboxone|percs?)|"
            r"(?:used|using|use|shot up|shooting up|did a shot)[^.!?\n]{0,30}\balone\b|tolerance is (?:gone|low|down)|"
            r"didn'?t (?:even )?test it|(?:used|shot up|relapsed)[^.!?\n]{0,40}(?:first time in|after) \d+ (?:months|years))"
        ),
        holds=False,
    ),
    Rule(
        "overdose_now",
        "overdose symptoms now",
        "overdose",
        "imminent",
        _rx(
            r"\b(?:can barely keep my eyes open|can'?t feel my (?:legs|arms|face)|getting (?:really )?sleepy|"
            r"lips (?:feel )?(?:numb|blue|tingly)|took (?:everything|all (?:of )?my (?:sleeping )?pills|all my \w+ pills)|"
            r"hit (?:way |much )?harder than (?:i )?(?:thought|expected)|can'?t (?:catch my breath|stay awake))"
        ),
    ),
    Rule(
        "someone_unreachable",
        "someone else in danger",
        "suicide",
        "high",
        _rx(
            r"\b(?:(?:texted|sent|messaged) me[^.!?\n]{0,60}(?:pills|sorry|goodbye|done with everything|end it)|"
            r"(?:she|he|they)(?:'s| is| are)? (?:not|isn'?t|won'?t|aren'?t) (?:answering|picking up|responding)|"
            r"locked (?:herself|himself|themselves) in|took a bunch of (?:her|his|their) pills|"
            r"keeps? saying (?:he|she|they)(?:'s| is| are) going to)"
        ),
        first_person=False,
    ),
    Rule(
        "someone_collapsed",
        "someone collapsed",
        "overdose",
        "imminent",
        _rx(
            r"\b(?:slumped (?:over|in)|gurgling|pinpoint pupils|(?:found|there'?s) (?:a guy|someone|a woman|a man)[^.!?\n]{0,30}(?:unconscious|passed out|slumped))"
        ),
        first_person=False,
    ),
    Rule(
        "abuse_signs",
        "abuse",
        "abuse",
        "high",
        _rx(
            r"\b(?:touch(?:es|ed) me (?:when|at night|down there)|throws? things at|shoves? (?:her|me|my mom|my mum) around|shoves? (?:her|me)\b|"
            r"burn the house down|(?:kill|hurt) us both|hiding in (?:the|my) (?:closet|bathroom|room|car)|"
            r"(?:he|she)(?:'s| has| is)? (?:got )?(?:a knife|a gun) and|chair against my door|screaming (?:he|she)'?ll)"
        ),
        first_person=False,
    ),
    Rule(
        "threat",
        "threat to others",
        "violence",
        "high",
        _rx(
            r"\b(?:i swear (?:to god )?i'?ll (?:kill|hurt|end) (?:him|her|them)|make (?:him|her|them) pay|"
            r"(?:got|have|bringing) (?:my |a |his |her |my brother'?s |my dad'?s )?gun[^.!?\n]{0,40}(?:settle|tonight|make)|settle things)"
        ),
    ),
    Rule(
        "cardiac",
        "medical emergency",
        "medical",
        "imminent",
        _rx(
            r"\b(?:chest (?:has been |is |feels )?(?:crushing|tight|pounding)|left arm (?:has been |is |feels )?(?:numb|tingling)|"
            r"blacked out (?:for a (?:sec|second|minute)|and (?:woke up )?on the floor)|(?:whole )?body (?:just )?(?:jerked|convulsed)|heart (?:is )?racing[^.!?\n]{0,40}can'?t (?:catch my )?breath)"
        ),
        first_person=False,
    ),
    Rule(
        "self_harm_acts",
        "self-harm",
        "self_harm",
        "high",
        _rx(
            r"\b(?:burn(?:ed|t)? my (?:arm|hand|skin|leg|wrist)|scratch(?:ing)? my (?:arms|skin|legs) until (?:they|it) bleeds?|"
            r"(?:hitting|banging|hit|bang) my head (?:against|on|into)|hand on the (?:burner|stove)|driving (?:really |so )?fast[^.!?\n]{0,40}hoping)"
        ),
        holds=False,
    ),
    # The guide's SH-CURRENT: the writer's own self-injury, told with a time that makes it current,
    # as ongoing, or as a relapse. Urges, milestones ("a year free from self harm today"), history
    # and accidents ("cut myself shaving") are other codes or none.
    Rule(
        "self_harm_recent",
        "recent self-harm",
        "self_harm",
        "high",
        _rx(
            # No digits between act and time, and no "not" just before it: "3 years ago today",
            # "in the past but not today".
            r"\bi "
            + _BEFORE_ACT
            + _self_harm_act(1)
            + r"[^.!?\n0-9]{0,40}?\b(?P<veto7>(?:not|no|never) )?"
            + _JUST_NOW
            + r"\b|"
            r"\bi just " + _self_harm_act(3) + r"|"
            r"\b" + _JUST_NOW + r",? i " + _BEFORE_ACT + _self_harm_act(5) + r"|"
            r"\b(?:i(?:'m| am)|i(?:'ve| have) been|i started) (?:cutting|self[- ]?harming|burning myself) again\b|"
            # Ongoing: told in the present, or as a relapse, which is recent by its meaning.
            r"\bi(?:'ve| have)? (?:been|kept|keep) (?:self[- ]?harming|cutting(?: myself(?P<veto8> off)?| my)|burning myself)\b|"
            r"\bi(?:'m| am) (?:still )?(?:self[- ]?harming|cutting myself(?P<veto9> off)?|burning myself)\b|"
            # "cut" is also its own past tense ("when i was 25 i cut myself every night"): only "still".
            r"\bi (?:still )?(?:self[- ]?harm|burn myself) (?:when|whenever|every|most|almost|again)\b|\bi still cut myself\b|"
            r"\bi(?:'ve| have)? relapsed (?:on|with|into) (?:self[- ]?harm(?:ing)?|cutting)\b|"
            r"\bstarted (?:to )?(?:self[- ]?harm(?:ing)?|cut(?:ting)?(?: myself)?) again\b"
        ),
    ),
    Rule(
        "es_self_harm_recent",
        "autolesión reciente (es)",
        "self_harm",
        "high",
        _rx(
            r"\b(?:me volv[ií] a (?:cortar|quemar|autolesionar)|"
            r"(?:me cort[eé]|me quem[eé]|me autolesion[eé]|reca[ií] en (?:las autolesiones|la autolesi[oó]n|cortarme))"
            r"(?P<veto1> (?:cocinando|afeit[aá]ndome|sin querer|por accidente|con (?:el|la|un|una) "
            r"(?:cuchillo|papel|lata|plancha|horno|sart[eé]n)))?[^.!?\n]{0,40}?\b(?:otra vez|de nuevo|anoche|hoy|ayer|esta (?:ma[nñ]ana|tarde|noche|semana)|hace (?:un rato|una hora|unas horas)))"
        ),
    ),
    # Relapse risk (concern)
    Rule(
        "relapse",
        "relapse risk",
        "relapse",
        "concern",
        _rx(
            r"\b(?:relapsed|slipped (?:up|last night|again)|(?:used|drank|drinking|using) again|"
            r"(?:craving|cravings)\b|want(?:ing)? to (?:use|drink|get high)|call(?:ing)? my (?:old )?dealer|"
            r"(?:bought|buying|got) (?:a bottle|some (?:pills|dope|coke|meth|gear)))"
        ),
    ),
    # Spanish
    Rule(
        "es_intent",
        "intención (es)",
        "suicide",
        "high",
        _rx(
            r"\b(?:me quiero (?:matar|morir)|quiero (?:morir(?:me)?|matarme|desaparecer)|voy a (?:matarme|suicidarme)|"
            r"(?:pienso|estoy pensando) en (?:matarme|suicidarme|quitarme la vida)|quitarme la vida|"
            r"no quiero (?:vivir|seguir viviendo)|ya no (?:puedo|aguanto) m[aá]s|mejor (?:estar[ií]a|estar) muert[oa])"
        ),
        escalation="intent",
        holds=False,
    ),
    Rule(
        "es_plan",
        "plan (es)",
        "suicide",
        "imminent",
        _rx(
            r"\b(?:(?:tengo|guard[eé]) (?:las|todas las) (?:pastillas)|esta noche (?:me mato|lo hago|termino con todo)|"
            r"(?:es|esta es) mi despedida|adi[oó]s a todos)"
        ),
        escalation="plan",
    ),
    Rule(
        "es_overdose",
        "emergencia (es)",
        "overdose",
        "imminent",
        _rx(r"\b(?:no respira|est[aá] (?:azul|inconsciente)|no (?:despierta|reacciona)|sobredosis)"),
        first_person=False,
        holds=False,
    ),
    Rule("es_abuse", "abuso (es)", "abuse", "high", _rx(r"\bme (?:pega|golpea|amenaza)\b"), holds=False),
    Rule(
        "es_self_harm",
        "autolesión (es)",
        "self_harm",
        "high",
        _rx(r"\b(?:me corto|cortarme|hacerme da[nñ]o)\b"),
        holds=False,
    ),
)

# Context that turns a match off or down.
_NEGATION = _rx(r"\b(?:not|never|no longer|won'?t|wouldn'?t|will not|isn'?t|ain'?t|don'?t|didn'?t|no)\b[^.!?\n]{0,25}$")
_NEGATED_INSIDE = _rx(r"\b(?:not|never|no longer|won'?t|wouldn'?t|don'?t|do not)\b")
_NOT_SUICIDAL = _rx(r"\b(?:not|no longer|never|wasn'?t|am not|i'?m not)\s+(?:feeling\s+)?suicidal\b")
_PAST = _rx(
    r"\b(?:\d+|a few|two|three|four|five|six|ten|many|several) (?:years?|months?|weeks?) ago\b|"
    r"\bback (?:then|when|in)\b|\bused to\b|\bwhen i was (?:using|drinking|younger|in active)|"
    r"\bbefore i got (?:sober|clean)|\bin my (?:active )?addiction\b|\bat my (?:lowest|worst)\b|\bi was suicidal\b|"
    r"\bi (?:once|used to) (?:want|think)|\bthat was (?:me|then)\b|\bin (?:19|20)\d\d\b|\blast year i\b|"
    r"\banniversary of\b|\b(?:survived|made it through)\b|\b(?:years?|months?) ago (?:tonight|today)\b"
)
_NOW = _rx(r"\b(?:tonight|right now|today|again|still|anymore|these days|lately|this week)\b")
_SUPPORT = _rx(
    r"\b(?:please (?:don'?t|do not)|don'?t (?:you )?(?:hurt|kill) yourself|(?:call|text) (?:988|911|999|116 ?123|a hotline|someone)|"
    r"if (?:you'?re|you are|anyone is|someone is) (?:feeling|thinking)|are you (?:safe|ok|okay)|you(?:'re| are) not alone|"
    r"reach out|stay with us|how (?:do|can) i help (?:him|her|them|someone|my)|my (?:friend|sponsee|brother|sister|son|daughter)"
    r"[^.!?\n]{0,30}(?:said|says|told me|keeps saying|texted))"
)
_REPORTED = _rx(
    r"\b(?:(?:he|she|they|someone|somebody|people|my (?:\w+)) (?:said|says|told me|asked|keeps saying|posted)|"
    r"the (?:song|movie|book|show|lyric|quote)|in the (?:song|movie|book|show)|quote[sd]?)\b[^.!?\n]{0,40}$"
)
_IDIOM = _rx(
    r"\b(?:(?:this|the|these|my|that|work|it|withdrawal|craving|cravings|wait|waiting|job|boss|kids?|heat|headache|"
    r"back|feet|knees?|hangover|anxiety|insomnia)\s+(?:\w+\s+)?(?:is|are|was|were)\s+(?:literally\s+)?killing me|"
    r"(?:could|would) kill for|die of (?:embarrassment|shame|boredom|laughter|cringe)|(?:i'?d|i would) rather die than|dying (?:for|to (?:know|try|see|get|have))|to die for|bored to death|scared to death|"
    r"(?:i'?m|i am) dead\b(?: ?lol|😂)|kill(?:ed|ing)? it\b|dead tired|killing time|laugh(?:ed|ing)? to death)"
)
_SECOND_PERSON_TARGET = _rx(r"\b(?:yourself|you)\b")


# The one pattern left on `re`: it is linear by construction. The lookbehind tests one character,
# and `\s+` is followed by nothing, so it never gives back what it took: each position is tried
# once and each whitespace run is consumed once.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\n])\s+")
_QUOTED = LinearPattern(r"[\"“][^\"”]{3,200}[\"”]")
#: How far back from a match the reported-speech check reads ("my sponsor said ... <match>"). The
#: pattern itself allows at most 40 characters after the verb; the rest is room for its subject.
_REPORTED_WINDOW = 240


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where each sentence of `text` starts and ends: the pieces `_SENTENCE_BREAK.split` gives, less blank ones."""
    spans = []
    start = 0
    for gap in _SENTENCE_BREAK.finditer(text):
        spans.append((start, gap.start()))
        start = gap.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


class _Sentence:
    """One sentence and the facts about it that every match in it shares, each worked out once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.subject = Subject(text)

    def _has(self, pattern: LinearPattern) -> bool:
        return pattern.search(self.subject) is not None

    @cached_property
    def not_suicidal(self) -> bool:
        return self._has(_NOT_SUICIDAL)

    @cached_property
    def quoted_spans(self) -> list[Span]:
        return list(_QUOTED.finditer(self.subject))

    @cached_property
    def support(self) -> bool:
        return self._has(_SUPPORT)

    @cached_property
    def mentions_you(self) -> bool:
        return "you" in self.text.lower()

    @cached_property
    def past_not_now(self) -> bool:
        return self._has(_PAST) and not self._has(_NOW)

    @cached_property
    def idiom(self) -> Span | None:
        return _IDIOM.search(self.subject)

    @cached_property
    def _first_spaced_i(self) -> int:
        padded = f" {self.text}"
        found = [p for p in (padded.find(" i "), padded.find(" I ")) if p != -1]
        return min(found) if found else len(padded)

    def writer_speaks_before(self, start: int) -> bool:
        """Whether `f" {before.lower()} "` holds " i " for `before = text[:start]`, in one step."""
        # " i " inside " " + before: the pronoun and the space after it both lie before `start`.
        if self._first_spaced_i + 2 < start + 1:
            return True
        # ...or the pronoun ends `before`, and the appended space follows it.
        return start >= 1 and self.text[start - 1] in "Ii" and (start == 1 or self.text[start - 2] == " ")

    def reported_before(self, start: int) -> bool:
        # `_REPORTED` ends at `$`, within 40 characters of its verb, so only the end of
        # `text[:start]` can hold it. One character more is read as context for its leading \b.
        window = max(0, start - _REPORTED_WINDOW)
        context = max(0, window - 1)
        return _REPORTED.search(Subject(self.text[context:start]), window - context) is not None


def _context_verdict(rule: Rule, sentence: _Sentence, start: int, end: int) -> str | None:
    """Why this match does not count ('negated', 'past', ...), or None when it stands."""
    text = sentence.text
    matched = text[start:end]
    if "suicidal" in matched.lower() and sentence.not_suicidal:
        return "negated"
    if rule.everyday_words and _NEGATED_INSIDE.matches(matched):
        return "negated"
    if _NEGATION.matches(text[:start][-40:]) and rule.first_person and rule.negation_sets_aside:
        return "negated"
    if any(s.start <= start and end <= s.end for s in sentence.quoted_spans):
        return "quoted"
    if rule.first_person and sentence.reported_before(start):
        return "reported"
    if rule.first_person and sentence.support and _SECOND_PERSON_TARGET.matches(matched + text[end : end + 20]):
        return "support"
    if rule.first_person and sentence.support and sentence.mentions_you and not sentence.writer_speaks_before(start):
        return "support"
    if rule.category in ("suicide", "self_harm", "overdose") and sentence.past_not_now:
        return "past"
    if rule.everyday_words:
        idiom = sentence.idiom
        if idiom and idiom.start <= end and start <= idiom.end:
            return "idiom"
    return None


@dataclass(frozen=True)
class RuleFindings:
    signals: list[Signal]
    #: Matches switched off by their context, with why: moderators see what was set aside.
    set_aside: list[SetAside] = field(default_factory=list)
    #: What in the whole post makes crisis words on their own less alarming (only without signals).
    context: list[str] = field(default_factory=list)

    @property
    def dismissed(self) -> list[str]:
        """The reasons for what did not count: each match set aside, then the reassuring context."""
        return [s.reason for s in self.set_aside] + self.context


def _rules_by_sentence(text: str, spans: list[tuple[int, int]]) -> dict[int, list[int]]:
    """For each sentence, the rules that may match in it: one pass of each rule over the whole text.

    A match inside one sentence is also a match in the whole text, so each sentence a rule can
    match in is overlapped by one of that rule's matches in the whole text. Running only those
    (sentence, rule) pairs keeps the work proportional to the text, not to sentences x rules.
    """
    whole = Subject(text)
    ends = [end for _, end in spans]
    candidates: dict[int, list[int]] = {}
    for number, rule in enumerate(RULES):
        for match in rule.pattern.finditer(whole):
            index = bisect.bisect_right(ends, match.start)
            while index < len(spans) and spans[index][0] < match.end:
                if candidates.setdefault(index, [])[-1:] != [number]:
                    candidates[index].append(number)
                index += 1
    return candidates


def apply_rules(text: str, quoted_from: str | None = None) -> RuleFindings:
    """The rules' signals in `text`. Matched words are quoted from `quoted_from` when given: the
    post as written, when `text` is its screening view (obfuscation.py), which has its length."""
    source = quoting_source(text, quoted_from)
    signals: list[Signal] = []
    set_aside: list[SetAside] = []
    spans = _sentence_spans(text)
    for index, rule_numbers in sorted(_rules_by_sentence(text, spans).items()):
        start, end = spans[index]
        piece = text[start:end]
        written = source[start:end]
        sentence = _Sentence(piece)
        for rule in (RULES[number] for number in rule_numbers):
            for match in rule.pattern.finditer(sentence.subject):
                words = _clip(written[match.start : match.end].strip())
                why_not = _context_verdict(rule, sentence, match.start, match.end)
                if why_not:
                    set_aside.append(SetAside(rule, words, why_not))
                    continue
                signals.append(Signal(rule, words, rule.risk))
                break
    context = [] if signals else _safe_context(text)
    return RuleFindings(_escalate(signals), set_aside, context)


_DANGER_NOW = _rx(r"\b(?:tonight|right now|anymore|any more|these days|lately|again)\b")
_SUPPORT_CONTEXT = _rx(
    r"\b(?:if you(?:'re| are) (?:reading this|struggling|thinking)|keep coming back|to any(?:one| parent| of you)|"
    r"you(?:'re| are) not alone|(?:call|text) (?:or text )?(?:988|911|999|116 ?123)|reach out|"
    r"(?:she|he|they)(?:'s| is| are) (?:okay|ok|safe) now|checking in)\b"
)


def _safe_context(text: str) -> list[str]:
    """Context that makes crisis words on their own less alarming: a past story, or support for others."""
    found = []
    # Searched in the whole text at once: neither pattern can reach across a sentence break (they
    # hold only words and single spaces), so "in some sentence" and "in the text" are the same.
    if _PAST.matches(text) and not _DANGER_NOW.matches(text):
        found.append("context: a past-tense recovery story")
    if _SUPPORT_CONTEXT.matches(text):
        found.append("context: support for someone else")
    return found


def _escalate(signals: list[Signal]) -> list[Signal]:
    """Intent together with a plan, means or a goodbye is imminent danger."""
    found = {s.rule.escalation for s in signals}
    if {"intent", "plan"} <= found:
        return [replace(s, risk="imminent") if s.category == "suicide" else s for s in signals]
    return signals


def _clip(words: str, limit: int = 60) -> str:
    return words if len(words) <= limit else words[: limit - 1] + "…"
