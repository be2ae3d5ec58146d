"""Ideas: the many ways people name one worry, mapped to one shared token per idea.

Short feedback about one worry often shares no word at all: "redundancies" and "lose
their jobs", "deficit" and "in the red", "jargon" and "I couldn't follow the booklet".
Each entry below is one idea inside a theme, written from the labelling guide's list of
what each theme covers (docs/themes.md) and from the kinds of concerns in the source
papers' "You told us" tables, with the words, paraphrases, word forms and abbreviations
people use for it. A text that names an idea gets the idea's token added to its words,
so two texts naming it in different words have that token in common.

The syntax is the classifier's lexicon syntax (engage/classify/lexicon.py): phrases
separated by commas, matched as whole words in any case; a word ending in ``*`` matches
any word starting with it. Matching is a dictionary lookup per word, not a regular
expression, so some forty ideas cost little on ten thousand items. The list is meant to
be read and edited by the team; nothing in it is learnt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from engage.classify.lexicon import PhraseMatcher, tokens
from engage.concerns.text import without_channel

# fmt: off
_IDEAS: dict[str, str] = {
    # ---------------------------------------------------------------- Money
    # Money leaving a place: fair shares, allocations, pooled budgets.
    "xfairshare": (
        "fair share*, our share, its share, their share, fairer share*, share of the money, "
        "share of the funding, share of the budget, allocation*, allocate*, reallocat*, "
        "ring fenc*, ringfenc*, ring-fenc*, redistribut*, divert*, siphon*, swallowed up, "
        "taken away, moved away, moved around, moved out, spent elsewhere, go elsewhere, "
        "goes elsewhere, end up elsewhere, somewhere else, spent in other, other borough*, "
        "other areas, other parts of, neighbouring, neighbours, bigger boroughs, "
        "pool*, one pot, single pot, central pot, one big pot, one budget, single budget, "
        "merged budgets, held centrally, keep local funding, stays local, stay local, "
        "kept local, spent locally, spent in our, spent on our, entitled to, divide the, "
        "divided up, carve up, carved up, slice of, the cake, lose out, losing out, "
        "loses out, prop up, subsidis*, subsidiz*, cross subsid*, follow the money, "
        "where the money goes, our money, local money, our funding, our budget, "
        "loudest areas, each borough keeps, per head, weighted, formula, resources to"
    ),
    # Someone else's deficit or debt shared.
    "xdeficit": (
        "deficit*, debt*, indebted, overspen*, overspent, in the red, shortfall*, "
        "bail* out, bailout*, bailing, balanced its books, balanced their books, "
        "balanced our books, kept within budget, stayed within budget, within budget, "
        "surplus*, financial recovery, special measures, inherit*, someone else's mess, "
        "someone else's losses, someone else's debt*, someone else's bill*, losses, "
        "mismanag*, badly run, badly managed, well run, well managed, punish*, "
        "carry the, liabilit*, black hole, bankrupt*, risk shar*, pay it off, paying it back, "
        "write off, written off, their overspending, their mistakes, financial mess, "
        "pay for their, pay for others, drag* our finances, share the bill"
    ),
    # What reorganising itself costs.
    "xreorgcost": (
        "management consultant*, consultancy, consultancies, consultants' fees, "
        "cost of the merger, cost of merging, cost of the reorganisation, cost of this, "
        "cost of reorganis*, cost of restructur*, cost of the change*, costs of the merger, "
        "merger cost*, reorganisation cost*, restructuring cost*, set up cost*, set-up cost*, "
        "setting up, shake up, shake-up, shakeup, rebrand*, logo*, new signs, signage, "
        "letterhead*, stationery, interim manager*, interim staff, transition budget, "
        "transition cost*, change programme, advisers, advisors, fees, legal advice, "
        "waste of money, waste of public money, waste of taxpayers, wasted money, "
        "how much will this cost, how much is this costing, how much will it cost, "
        "how much did, total bill, the bill, price tag, costly, expense, expensive reports, "
        "costs a fortune, cost a fortune, millions on, redundancy payments, payoffs, "
        "pay offs, golden handshake*, golden goodbye*, reorganisation after reorganisation, "
        "yet another reorganisation, another restructure, another reorganisation"
    ),
    # Savings targets and cuts: the plan as a way to spend less.
    "xcuts": (
        "saving*, savings target*, save money, money saving, cost cutting, cost-cutting, "
        "cutting costs, cut costs, cut back*, cutback*, budget cuts, funding cuts, "
        "spending cuts, cuts to the budget, cuts in funding, cuts to funding, efficienc*, "
        "austerity, squeeze*, squeezed, reduction in spending, reduce spending, "
        "reduce* costs, spending reduction*, percentage reduction, trim*, salami, "
        "less money, leaner, slash*, balance the books, balancing the books, "
        "driven by money, driven by cost*, driven by finance*, financial target*, "
        "financial pressure*, qipp, rationing, ration*, cheaper, do more with less, "
        "make savings, find savings, cost reduction*, underfund*, underfunded, "
        "less money per patient, cut* services, cuts dressed up, cuts in disguise"
    ),
    # Private companies, contracts and profit.
    "xprivate": (
        "privatis*, privatiz*, private sector, private compan*, private firm*, "
        "private provider*, private health*, privately, outsourc*, tender*, "
        "shareholder*, profit*, for-profit, not-for-profit, american, corporat*, "
        "virgin, the market, market forces, marketplace, big business*, businesses, "
        "compan*, commercial*, insurance, insurers, us style, us-style, "
        "accountable care, procure*, procurement, competition, any qualified provider, "
        "contracts to, contracts with, handed over, sold off to, publicly provided, "
        "publicly run, publicly owned, public ownership, public service not, "
        "back door, backdoor, foot in the door, carve the nhs, asset strip*"
    ),
    # Buildings, land and capital investment.
    "xestates": (
        "building*, premises, estates, land, site, sites, sell off, selling off, sold off, "
        "sale of, developers, property, properties, capital investment, capital funding, "
        "capital money, invest in premises, investment in, falling apart, repair*, "
        "maintenance, leaking, crumbling, health centre*, new surgery, new premises, "
        "new health centre, new hospital building, lease*, rent, rents, car park sold, "
        "fit for purpose, estate strategy, bricks and mortar"
    ),
    # Investment promised (in community care, new hubs, primary care) that has not come:
    # answered with what was promised and where it is, not with a budget formula.
    "xpromised": (
        "promise*, promising, pledge*, pledging, committed to invest*, never arrived, "
        "never came, never materialis*, never happened, still waiting for the, "
        "still no sign, no sign of, where is the money, where's the money, new money, "
        "extra money, extra investment, more investment, invest* in community, "
        "invest* in primary care, invest* in gp, shift to the community, shift money, "
        "shift funding, move money into, moved into the community, transformation fund*, "
        "transformation money, out of hospital, broken promise*, we were told there would, "
        "we were promised, was promised, were promised, yet to see, has not appeared, "
        "hasn't appeared"
    ),
    # Managers' pay and numbers (the guide's convention 12: running costs).
    "xmanagerpay": (
        "salar*, fat cat*, six figure*, six-figure, £100k, 100k, bonus*, highly paid, "
        "managers' pay, executive pay, chief executives' pay, big salaries, "
        "layer* of management, layer* of managers, more managers, management costs, "
        "running costs, overhead*, pay of the, paid more than"
    ),
    # ------------------------------------------------------ Decision-making
    # Decisions taken further away; local voice lost.
    "xlocalvoice": (
        "local voice*, speak for, speaks for, far away, further away, remote, distant, "
        "out of touch, sidelined, drowned out, centralis*, centraliz*, "
        "lose our influence, lose influence, lose our say, lose our voice, outvoted, "
        "one small voice, shut out, no say, local control, local decision*, "
        "local accountability, close to the people, close to people, closer to people, "
        "close to communities, close to the community, one body for, one board for, "
        "one organisation for, one ccg for, single ccg, single body, million people, "
        "millions of people, whole region, huge area, bigger body, big organisation, "
        "too big, too large, what is happening on, doesn't know our, don't know our, "
        "know nothing about, never been to, office in, offices in, headquarters in, "
        "top down, top-down, seven other, eight boroughs, forgotten, "
        "decided elsewhere, decided in, decisions made in, decisions taken in, "
        "taken away from local, local people will have no, power should stay, "
        "power* away, stay local, our council, local councils, sovereignty, save our ccg"
    ),
    # The consultation decided before it began: answered with what was changed because
    # of what people said, not with a longer timetable.
    "xdonedeal": (
        "box ticking, box-ticking, tick box*, tick-box*, done deal, already been decided, "
        "already decided, already made, already agreed, decided already, decided long, "
        "decided before, foregone, fait accompli, made up their minds, minds made up, "
        "made their minds up, sham, listening exercise, pretend*, going through the motions, "
        "lip service, pointless, what's the point, what is the point, waste of time, "
        "not negotiable, non-negotiable, regardless, won't listen, will not listen, "
        "don't listen, didn't listen, not listening, never listen*, ignored, ignore us, "
        "nothing changed, nothing will change, did the opposite, went ahead anyway, "
        "go ahead anyway, rubber-stamp*, rubber stamp*, "
        "genuine consultation, real consultation, meaningful, "
        "make any difference, makes no difference, no option to, leading question*"
    ),
    # The timetable: too short, badly timed, rushed.
    "xrushed": (
        "consultation period, deadline*, extend*, extension, too short, far too short, "
        "few weeks, six weeks, four weeks, eight weeks, three weeks, two weeks, "
        "weeks to respond, august, summer, holiday*, christmas, new year, "
        "more time, too little time, not enough time, short notice, timetable, timescale*, "
        "time frame, timeframe, rush*, hurr*, hasty, hastily, fast track*, fast-track*, "
        "too fast, too quickly, so quickly, slow* down, pause, delay the, window, "
        "closing date, reopen*, take more time"
    ),
    # Who can take part: publicity, venues, times, online-only, formats.
    "xreach": (
        "advertis*, publicis*, publiciz*, publicity, heard of it, heard about it, "
        "never heard, nobody told, nobody asked, didn't know about, "
        "poster*, leaflet*, public meeting*, drop in, drop-in, events, event, venue*, "
        "online only, only online, internet, online survey, digital, computer*, email, "
        "step-free, step free, wheelchair, disabled, disabilit*, accessible, "
        "inaccessible, access to the, hearing loop, "
        "weekday*, daytime, evening*, hard to reach, seldom heard, "
        "questionnaire*, response form, paper copy, paper copies, by post, "
        "large print, easy read, easy-read, interpreter*, braille, bsl, sign language"
    ),
    # Decisions taken out of sight: meetings, papers and minutes not public.
    "xopen": (
        "transparen*, opaque, in public, behind closed doors, in private, in secret, "
        "secret*, closed session*, private session*, "
        "the minutes, board minutes, meeting minutes, minutes of, agenda*, "
        "board papers, papers, publish*, published, livestream*, live stream*, webcast*, "
        "broadcast, filmed, recorded, open meeting*, meetings should be open, "
        "open to the public, public questions, attend, freedom of information, foi, "
        "register of interests, hidden, hide, "
        "cover up, cover-up"
    ),
    # Nobody elected answers for the decisions: scrutiny, councils, votes.
    "xaccountable": (
        "accountab*, unaccountab*, answerable, answer to, answers to, "
        "scrutin*, call the new body in, call it in, called in, "
        "constitution*, terms of reference, oversight, vote them out, vote out, "
        "unelected, elected, nobody is elected, answer for, answers for, who answers, "
        "who is responsible, who will be responsible, who is to blame, "
        "councillor*, council, councils, health committee, jhosc, "
        "overview and scrutiny, democra*, undemocratic, "
        "voting rights, vote, votes, powers, public record, "
        "when things go wrong, complain to, nhs england, "
        "secretary of state, mp, mps"
    ),
    # Hard to understand: jargon, formats, languages.
    "xplain": (
        "jargon, acronym*, abbreviation*, plain english, translat*, "
        "language*, confus*, baffl*, understand*, explain*, technical, "
        "summary, couldn't follow, could not follow, can't follow, cannot follow, "
        "hard to follow, hard to read, normal person, ordinary person, ordinary people, "
        "gobbledygook, gobbledegook, what does this mean, what does it mean, "
        "actually mean, doesn't say, does not say, bengali, urdu, polish, somali, "
        "punjabi, gujarati, arabic, tamil, portuguese, romanian, "
        "booklet, clearer, in simple, simple words, wordy, long document, "
        "pages of, management speak, buzzword*, what it means for me, means for me, "
        "word salad, impenetrable, unreadable, read it"
    ),
    # Patients, carers and lay people in the room (a concern the guide names: lay
    # members, Healthwatch, patient participation).
    "xpatientreps": (
        "patient rep*, patient representative*, patient voice, patients' voice, "
        "patient participation, participation group*, ppg, ppgs, lay member*, "
        "lay people, lay person, carer*, service user*, healthwatch, "
        "people who use, people who actually use, those who use, users of, "
        "community group*, community representative*, voluntary sector, "
        "voluntary organisation*, charities, residents on, patients on the board, "
        "patients should sit, sit on the committees, co-produc*, coproduc*, "
        "involve patients, involving patients, patient involvement, public involvement, "
        "seats for patients, patient panel*, citizens' panel, citizens panel, formal role"
    ),
    # ---------------------------------------------------- Clinical leadership
    # GPs' voice diluted in a bigger body.
    "xgpvoice": (
        "gp voice, gps' voice, gp's voice, gps voice, gps' say, gp say, gps say, "
        "gp influence, gps' influence, gp seat*, gps' seats, member practice*, "
        "local gps, local doctors, family doctor*, doctors in smaller, diluted, dilute*, "
        "clinical chair*, clinically led, clinician led, clinician-led, gp led, gp-led, "
        "led by gps, led by local gps, led by doctors, led by clinicians, "
        "look in, look-in, one seat, one gp, practices in smaller, membership, "
        "lmc, lmcs, bma, local medical committee, gp members, gp member, "
        "the gps i know, gps will have, gps won't, gps will not, grassroots, "
        "frontline gps, gp involvement, commissioning led by, gp commissioning, "
        "practice based commissioning"
    ),
    # Managers or officials deciding instead of clinicians.
    "xmanagers": (
        "manager*, management-led, management led, bureaucrat*, administrator*, "
        "accountant*, finance director*, executive*, officials, rubber stamp*, takeover, "
        "take over, civil servant*, pen pusher*, pen-pusher*, money people, suits, "
        "no medical background, no clinical background, no medical training, "
        "non-clinical, non clinical, non-medical, bean counter*, beancounter*, "
        "non-clinicians, managerial, run by managers, run by accountants, "
        "clinical calls, clinical decisions, not doctors"
    ),
    # Clinicians' time taken from patients.
    "xgptime": (
        "away from patients, away from their patients, away from surgeries, "
        "away from the surgery, away from the practice, time away, time with patients, "
        "time out, out of the surgery, meeting*, boardroom*, board room*, workload*, "
        "locum*, backfill*, committee*, sessions, hours in, hours a week, "
        "covering a doctor, cover for, absence, absent, too busy, not enough hours, "
        "not enough time, day job, day jobs, clinical time, patient time, "
        "time to lead, time taken"
    ),
    # GPs as commissioners against GPs as their patients' doctors: conflicts of
    # interest, rationing with a doctor's face.
    "xconflict": (
        "conflict* of interest, conflicted, vested interest*, financial interest*, "
        "own practice*, their own practices, own patients, their own patients, "
        "against their patients, against her patients, against his patients, "
        "against their own, working against, the rationing, "
        "blamed for, gatekeep*, doctor-patient, trust their gp, trust in their gp, "
        "trust their doctor, paying themselves, pay themselves, award* contracts to, "
        "contracts to themselves, refer* to themselves, commissioning their own, "
        "judge and jury, marking their own homework, own homework, interests declared, "
        "declare*, "
        "both sides, two hats, "
        "wear two hats, role clash, compromis*"
    ),
    # Clinicians who run a service not asked before it is changed.
    "xclinicalinput": (
        "clinical input, clinical advice, clinical case, clinical evidence, "
        "clinical engagement, clinical reference group*, clinical senate, "
        "ask the clinicians, ask the doctors, ask the nurses, "
        "ask the people, were not asked, weren't asked, never asked, not consulted, "
        "weren't consulted, were not consulted, without us, designed without, "
        "without clinical, without asking, frontline clinicians, front-line clinicians, "
        "front line staff, senior clinicians, medical staff, "
        "the people who do the work"
    ),
    # Primary care networks and their clinical directors.
    "xpcn": (
        "pcn, pcns, primary care network*, network*, clinical director*, "
        "network lead*, heads of the new gp networks, neighbourhood team*, "
        "groups of practices, practices working together, protected time"
    ),
    # Nurses and other professions left out.
    "xnurses": (
        "nurs*, pharmacist*, therapist*, physio*, allied health, ahp, ahps, midwi*, "
        "health visitor*, consultants and, consultants as well, secondary care doctor*, "
        "hospital doctor*, hospital clinicians, social worker*, paramedic*, dentist*, "
        "optometrist*, optician*, multidisciplinary, multi-disciplinary, "
        "other clinicians, other professions, other professionals, not just gps, "
        "not only gps, only gps, whole team, whole workforce, specialist*, "
        "care workers, community staff, professions"
    ),
    # --------------------------------------------------------------- Services
    # Getting a GP appointment.
    "xgpaccess": (
        "appointment*, get through, 8am, 8 am, eight o'clock, eight in the morning, "
        "book*, see a gp, see my gp, see a doctor, see my doctor, see the doctor, "
        "see the same doctor, see the same gp, face to face, face-to-face, on the phone, "
        "phone line*, phone lines, receptionist*, engaged tone, queue*, triage, "
        "online consultation*, e-consult*, econsult*, same day, same-day, "
        "can't get seen, cannot get seen, get seen, wait* to see, weeks to see, "
        "ring the surgery, call back, callback, my surgery, the surgery, my practice, "
        "register*, registration, closed list*, closing list*, closing their list*, "
        "closing its list*, closed their list*, closed its list*, closed to new patients, "
        "closing to new patients, not taking new patients, can't register, cannot register"
    ),
    # Hospitals and units closing, downgraded or moved.
    "xclosure": (
        "clos*, downgrad*, a&e, a & e, a and e, accident and emergency, "
        "emergency department*, casualty, maternity, bed*, ward*, walk-in, walk in, "
        "shut*, axe*, scrap*, keep it open, keep open, stay open, save our, "
        "lose our hospital, lose the hospital, lose our unit, lose the unit, "
        "hospital*, unit, units, stroke unit, stroke, moved out, move out, moved to, "
        "reconfigur*, merge the hospitals, consolidat*, centre of excellence, "
        "birth centre, midwife-led unit, urgent care, urgent treatment, minor injur*, "
        "paediatric*, children's ward"
    ),
    # Emergency care: A&E, urgent care and minor injuries units (answered apart from a
    # maternity unit or a clinic: a different service, a different plan).
    "xae": (
        "a&e, a & e, a and e, accident and emergency, emergency department*, "
        "emergency care, emergency surgery, casualty, urgent care, urgent treatment, "
        "minor injur*, stroke*, blue light*, 24 hour*, overnight, "
        "resus*, trauma, 999"
    ),
    # Maternity and births.
    "xmaternity": (
        "maternity, birth*, midwi*, labour, in labour, pregnan*, baby, babies, "
        "newborn*, neonat*, obstetric*, antenatal, postnatal, delivery suite, "
        "labour ward, special care baby, scbu, mums, mothers, women giving birth"
    ),
    # Mental health services.
    "xmental": (
        "mental health, mental illness, mentally, talking therap*, iapt, camhs, "
        "psycholog*, psychiatr*, crisis, depress*, anxiety, eating disorder*, "
        "dementia, counsell*, self harm, self-harm, suicid*, bipolar, schizophren*, "
        "psychosis, ptsd, adhd, autis*, learning disabilit*, wellbeing service*, "
        "crisis team, community mental health, parity of esteem"
    ),
    # Levelling down: one policy for all places, a postcode lottery.
    "xlevelling": (
        "postcode lottery, level down, levelling down, leveling down, level* down, "
        "harmonis*, harmoniz*, align*, one size fits all, lowest common, lowest level, "
        "eligibility, criteria, ivf, fertility, policies, policy, same rules, "
        "same offer, standardis*, standardiz*, lose services, lose what we have, "
        "services we have now, services we have today, better than, other areas have, "
        "other areas get, varies, vary, different areas, inequalit*, unequal, equal*, "
        "fair access, cataract*, hip, knee, procedures of limited, not available here, "
        "no longer available, offer will, what is offered, treatments available, "
        "treatment we have, watered down, worst of, race to the bottom"
    ),
    # Travelling further for care.
    "xtravel": (
        "travel*, further away, further to, farther, bus, buses, journey*, "
        "public transport, drive, driving, don't drive, car, cars, no car, parking, "
        "close to home, closer to home, near home, nearer home, miles, "
        "distance, get there, getting there, taxi*, fare*, tube, by train, the train, "
        "trains, trek, "
        "across london, across town, other side of, two buses, hours to get, "
        "elderly people to get, can't get to, cannot get to, local hospital, "
        "on our doorstep, in the community, local services"
    ),
    # Waiting times and waiting lists.
    "xwaiting": (
        "waiting list*, waiting time*, wait* weeks, wait* months, weeks wait, "
        "months wait, long waits, longer waits, wait longer, waiting longer, "
        "referral*, referred, 18 weeks, backlog*, delay*, queue for, "
        "waited, waiting for, ambulance*, response time*"
    ),
    # Quality and safety of care.
    "xquality": (
        "quality, safety, safe, unsafe, standards, standard of care, cqc, "
        "worse care, poorer care, lives at risk, put lives, die*, death*, "
        "risk to patients, patients at risk, dangerous, care will suffer, "
        "suffer, worse service*, continuity of care, outcomes"
    ),
    # Community, children's and social care where it meets the NHS.
    "xcommunity": (
        "community services, community nurs*, district nurs*, children's services, "
        "children's services, social care, care home*, care package*, "
        "discharge*, home care, respite, pathway*, integrat*, joined up, joined-up, "
        "health and social care"
    ),
    # ------------------------------------------------------------------- Jobs
    # Jobs lost: redundancies, posts cut, reapplying.
    "xredundancy": (
        "redundan*, job loss*, job losses, lose their job*, lose my job, lose our jobs, "
        "lose his job, lose her job, lose jobs, losing jobs, losing their jobs, "
        "lost jobs, posts deleted, post deleted, posts will go, posts at risk, "
        "posts cut, posts lost, posts disappear, jobs at risk, jobs will go, jobs go, "
        "jobs lost, jobs cut, job cuts, cut jobs, cutting jobs, cutting posts, "
        "cutting management posts, made redundant, fewer staff, fewer posts, "
        "headcount, out of work, unemploy*, lay off, laying off, "
        "laid off, lay-offs, layoffs, let go, slotted in, slotting, job matching, "
        "reapply, re-apply, apply for their own jobs, apply for our own jobs, "
        "apply for my own job, at risk of redundancy, displaced, still be there, still have a job, "
        "still have jobs, downsiz*, job security, jobs for, jobs of, staff will go, "
        "people will go, their livelihood*, livelihoods, pink slip*, p45, "
        "no longer be needed, not be needed, surplus to requirements, duplicate posts, "
        "duplication, cut the number"
    ),
    # Staff morale, stress and uncertainty.
    "xmorale": (
        "morale, demoralis*, demoraliz*, stress*, anxious, anxiety, uncertain*, "
        "exhausted, exhaustion, wellbeing, well-being, undervalued, unvalued, "
        "sick leave, burn* out, burnout, burnt-out, burned-out, limbo, in the dark, "
        "worn down, worn out, fed up, unsettl*, insecur*, not being told, not told, "
        "kept waiting, goodwill, tired, change fatigue, upheaval, "
        "pulled in every direction, overwhelmed, overstretched, stretched, "
        "cannot cope, can't cope, at breaking point, breaking point, on edge, "
        "sleepless, low morale, mood, toll on staff, looking for other jobs, "
        "heads down, the human cost, treated badly, treated like"
    ),
    # Local knowledge and experience lost with the people.
    "xknowledge": (
        "local knowledge, knowledge, experience*, expertise, expert*, skilled, "
        "skills, institutional memory, memory, relationship*, long serving, "
        "long-serving, know the local, know the area, knows the area, know our area, "
        "know their patients, know the patients, know the practices, know our practices, "
        "know who to, knows who, understanding of the area, understanding of our, "
        "years of, decades of, continuity, contacts, networks built, built up over, "
        "lose good people, lose experienced, experienced staff, know the community, "
        "knows the community, local staff, local people who"
    ),
    # Terms, pay, pensions, TUPE, relocation and commuting.
    "xterms": (
        "terms and conditions, t&cs, tupe, pay band*, banding, "
        "grade*, regrad*, downband*, pension*, staff pay, our pay, their pay, pay cut*, "
        "pay freeze, pay rise*, "
        "rates of pay, pay scale*, pay and conditions, pay grade*, salary protection, "
        "pay protection, protected pay, contracts of staff, staff contracts, "
        "employment contract*, relocat*, headquarters, office, offices, commute*, "
        "commuting, travel to work, flexible working, working from home, "
        "job description*, based in, based at, move offices, moved to, new employer, "
        "employer, annual leave, holiday entitlement, working hours, part time, part-time, "
        "childcare, school run"
    ),
    # Recruitment, retention, vacancies and shortages.
    "xrecruit": (
        "recruit*, retain*, retention, vacanc*, shortage*, agency staff, agency, "
        "locum*, training places, attract*, not enough gps, not enough nurses, "
        "not enough staff, not enough doctors, understaff*, short staffed, "
        "short-staffed, gaps in the rota, rota gaps, leave the nhs, leaving the nhs, "
        "leaving for, hard to fill, unfilled, empty posts, workforce, brexit, "
        "overseas, housing costs, london weighting, cost of living, trainee*, "
        "bursar*, fill posts, fill the posts, too few, not enough people, staffing"
    ),
    # Careers, training and development for staff.
    "xcareers": (
        "career*, training, train, trained, trainee*, develop* opportunit*, "
        "professional development, cpd, study leave, progress*, promotion*, "
        "apprentic*, student*, junior staff, junior, mentor*, qualif*, learning, "
        "skills development, secondment*, prospects"
    ),
    # Staff consulted late or not at all (the guide's convention 1 and 14).
    "xstaffconsult": (
        "staff consultation, staff engagement, staff briefing*, union*, unison, rcn, "
        "gmb, unite, staff side, found out from, found out in, heard from the press, "
        "heard it from, from the press, in the paper, local paper, on the news, "
        "staff were not told, staff weren't told, staff were told, staff were not consulted, "
        "staff weren't consulted, staff were not asked, staff weren't asked, "
        "consult staff, consulted staff, consult with staff, tell staff, told staff, "
        "video, videos, email to staff, all staff email"
    ),
}
# Phrases in which an idea's words mean something else, per idea: a word inside one of
# these does not name the idea ("close to home" is not a closure, "Save our CCG" is
# about who decides, a practice "closing its list" is about getting registered). Found
# in a person's check of the demo's concerns and in the labelling guide's hard cases;
# the other sense often names another idea, which keeps its own phrases.
_NOT: dict[str, str] = {
    "xclosure": (
        "close to, closer to, closely, closest, close working, close relationship*, "
        "close the gap, closing the gap, closing date, closed doors, closed meeting*, "
        "closed session*, closed list*, closing list*, closing their list*, "
        "closing its list*, closed their list*, closed its list*, list* closed, "
        "list closure*, closed to new, closing to new, closure of the list*, "
        "save our ccg, save our gp commissioning, bed blocking, bedroom*, "
        "hospital appointment*, hospital doctor*, hospital consultant*, hospital trust*, "
        "hospital staff, hospital clinicians, unit cost*, moved to tears"
    ),
    "xgpaccess": (
        "booklet*, book of, register of interests, registered nurse*, "
        "registered manager*, electoral register"
    ),
    "xgptime": (
        "public meeting*, meeting the needs, meeting their needs, meeting our needs, "
        "meeting targets, meeting the target*, drop in sessions, drop-in sessions, "
        "information sessions, scrutiny committee*, health committee*, select committee*, "
        "overview and scrutiny committee*, consultation meeting*, meetings in public, "
        "board meetings in public, meetings held in public"
    ),
    "xpcn": "social network*, networks built, network rail, network of support",
    "xrushed": (
        "extended hours, extended access, extend opening, extended opening, "
        "holiday entitlement, waiting for the, delay* in, delays to, delayed discharge"
    ),
    "xreach": "patient survey*, staff survey*, gp patient survey, accessible services",
    "xopen": "published plans, publish our, names removed",
    "xmanagers": "practice manager*, ward manager*, take over the nhs, taking over the nhs",
    "xnurses": (
        "nursing home*, nursery, nurseries, specialist service*, specialist care, "
        "specialist centre*, specialist unit*, specialist hospital*, specialist treatment"
    ),
    "xtravel": (
        "the drive to, drive to cut, drive to save, drive for, local services will, "
        "in the community mental"
    ),
    "xcareers": (
        "the train, by train, train station*, train fare*, train journey*, "
        "learning disabilit*, lessons learn*, learning from"
    ),
    "xknowledge": (
        "patient experience*, my experience, in my experience, our experience, "
        "experience of care, experience of the nhs, memory clinic*, memory service*, "
        "memory loss"
    ),
    "xaccountable": "local papers, local paper, in the papers, in the paper, newspaper*",
}
# fmt: on
# What each idea says, as a clause to follow "You told us you are concerned that": the
# draft line of a concern most of whose people name the idea (drafting.draft_line).
# Written for this list in plain words; staff edit the draft before it is published.
SAYS: dict[str, str] = {
    "xfairshare": "money meant for your area will be spent somewhere else",
    "xdeficit": "your area will have to pay for other areas' debts and overspending",
    "xreorgcost": "the reorganisation itself will cost money that should be spent on care",
    "xcuts": "the changes are really a way of cutting costs and services",
    "xprivate": "more NHS work will go to private companies run for profit",
    "xestates": "health buildings will be sold off or left to decline instead of invested in",
    "xpromised": "investment you were promised will not arrive",
    "xmanagerpay": "money will go on managers and their pay rather than on care",
    "xlocalvoice": "decisions will be made further away, by people who do not know your area",
    "xdonedeal": "the decision has already been made and the consultation is for show",
    "xrushed": "the consultation is too short or badly timed for people to respond",
    "xreach": "the consultation does not reach people or is hard to take part in",
    "xopen": "decisions will be taken behind closed doors, with papers and meetings not public",
    "xaccountable": "no one the public elects will hold the new organisation to account",
    "xplain": "the plans are hard to understand",
    "xpatientreps": "patients, carers and local groups will have no place where decisions are made",
    "xgpvoice": "local GPs will lose their say in decisions",
    "xmanagers": "managers rather than clinicians will make the decisions",
    "xgptime": "leading commissioning will take doctors away from their patients",
    "xconflict": "GPs' role as commissioners will clash with their duty to their own patients",
    "xclinicalinput": "the clinicians who run services are not asked before they are changed",
    "xpcn": "primary care networks and their clinical directors will not be heard or supported",
    "xnurses": "nurses and other professions will be left out of decisions",
    "xgpaccess": "it will be even harder to get a GP appointment",
    "xclosure": "hospital services will close, be downgraded or move away",
    "xae": "your A&E or urgent care will be downgraded or closed",
    "xmaternity": "maternity care and births will move away or stop",
    "xmental": "mental health services will suffer",
    "xlevelling": "services will be levelled down to the same lower offer everywhere",
    "xtravel": "you will have to travel further for care",
    "xwaiting": "waits for care will get longer",
    "xquality": "the quality and safety of care will suffer",
    "xcommunity": "community and social care will not be joined up with the NHS",
    "xredundancy": "staff will lose their jobs",
    "xmorale": "the uncertainty will wear down staff morale",
    "xknowledge": "experienced staff and their local knowledge will be lost",
    "xterms": "staff pay, terms or place of work will change for the worse",
    "xrecruit": "there will not be enough staff and posts will be hard to fill",
    "xcareers": "staff will lose chances to train and progress",
    "xstaffconsult": "staff are not being told or consulted properly",
}
# The theme each idea belongs to, by the sections of the list above: a concern's draft
# speaks first of an idea of its own theme (a money concern whose people also mention
# closures is drafted as money).
_THEME_STARTS = {
    "xfairshare": "money",
    "xlocalvoice": "decision-making",
    "xgpvoice": "clinical-leadership",
    "xgpaccess": "services",
    "xredundancy": "jobs",
}
# An idea speaks for a concern when at least this share of its people name it; one
# that fewer name (LEANING_SHARE) words a draft only when nothing people wrote can.
MAIN_IDEA_SHARE = 0.4
LEANING_SHARE = 0.25

PHRASES: dict[str, list[str]] = {token: text.split(", ") for token, text in _IDEAS.items()}
_MATCHER = PhraseMatcher(list(PHRASES.items()))
TOKENS = list(_IDEAS)
THEME_OF: dict[str, str] = {}
for _token in TOKENS:
    THEME_OF[_token] = _THEME_STARTS.get(_token) or THEME_OF[TOKENS[TOKENS.index(_token) - 1]]


# Per guarded idea: a matcher of its other senses, and one of its own phrases.
_GUARDS: dict[str, tuple[PhraseMatcher, PhraseMatcher]] = {
    token: (PhraseMatcher([(token, text.split(", "))]), PhraseMatcher([(token, PHRASES[token])]))
    for token, text in _NOT.items()
}


def _named_outside_guards(token: str, toks: list[str]) -> bool:
    """Whether ``toks`` name ``token``'s idea with a word outside its other senses."""
    guards, own = _GUARDS[token]
    kept = list(toks)
    for start, end, _ in guards.spans(toks):
        kept[start:end] = [""] * (end - start)  # a blank word matches no phrase
    return bool(own.find(kept)[0])


def ideas(text: str) -> list[str]:
    """The idea tokens whose phrases occur in ``text``, in the list's order; a phrase
    inside one of its idea's other senses (``_NOT``) does not count."""
    toks = tokens(without_channel(text).replace("\u2019", "'"))
    found = _MATCHER.find(toks)
    named = []
    for token, hits in zip(TOKENS, found, strict=True):
        if hits and (token not in _GUARDS or _named_outside_guards(token, toks)):
            named.append(token)
    return named


def main_idea(
    texts: Sequence[str], theme: str | None = None, share: float = MAIN_IDEA_SHARE
) -> str | None:
    """The idea most of ``texts`` name, if at least ``MAIN_IDEA_SHARE`` of them (and two)
    do; the list's order breaks ties. With ``theme``, only that theme's ideas may
    speak for the concern: a money concern worded as "staff will lose their jobs"
    reads wrong under Money (a person's check of the demo's drafts, docs/concerns.md)."""
    if not texts:
        return None
    counts = Counter(token for text in texts for token in ideas(text))
    if not counts:
        return None

    def qualifies(token: str) -> bool:
        return counts[token] >= 2 and counts[token] >= share * len(texts)

    pool = [t for t in TOKENS if theme is None or THEME_OF[t] == theme]
    best = max(pool, key=lambda token: (counts[token], -TOKENS.index(token)), default=None)
    return best if best is not None and qualifies(best) else None
